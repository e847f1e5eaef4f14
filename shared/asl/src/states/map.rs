//! Map: runs its ItemProcessor once per item, `MaxConcurrency` at a time, and
//! tolerates up to `ToleratedFailureCount`/`Percentage` failed items.

use serde_json::Value;

use crate::definition::fields::{Fields, parse_path};
use crate::definition::problem::Problems;
use crate::definition::{Builder, ScopeId, State};
use crate::error::StatesError;
use crate::exec::{Fanout, Step, Thread};
use crate::path::{Path, Root};
use crate::template::Template;

/// A number given literally or read from the input by a path.
#[derive(Debug, Clone)]
pub enum Amount<T> {
    Literal(T),
    Path(Path),
}

#[derive(Debug, Clone)]
pub struct Map {
    pub processor: ScopeId,
    pub distributed: bool,
    pub items_path: Option<Path>,
    pub item_selector: Option<Template>,
    pub max_concurrency: Option<Amount<u64>>,
    pub tolerated_count: Option<Amount<u64>>,
    pub tolerated_percentage: Option<Amount<f64>>,
    pub label: Option<String>,
    pub batcher: Option<Value>,
}

impl Map {
    pub fn parse(f: &mut Fields<'_>, b: &mut Builder, p: &mut Problems) -> Option<Map> {
        let (key, legacy) = match (f.has("ItemProcessor"), f.has("Iterator")) {
            (true, false) => ("ItemProcessor", false),
            (false, true) => ("Iterator", true),
            (true, true) => {
                p.schema(
                    &f.at,
                    "A Map state cannot have both 'ItemProcessor' and 'Iterator'",
                );
                return None;
            }
            (false, false) => {
                p.schema(&f.at, "These fields are required: [ItemProcessor]");
                return None;
            }
        };
        let proc_at = f.ptr(key);
        let obj = f.object(if legacy { "Iterator" } else { "ItemProcessor" }, p)?;
        let mut pf = Fields::new(obj, proc_at);
        pf.string("Comment", p);
        pf.raw("QueryLanguage");
        let mut distributed = false;
        if let Some(cfg) = pf.object("ProcessorConfig", p) {
            let mut cf = Fields::new(cfg, pf.ptr("ProcessorConfig"));
            match cf.string("Mode", p).as_deref() {
                None | Some("INLINE") => {}
                Some("DISTRIBUTED") => distributed = true,
                Some(other) => p.schema(
                    &cf.ptr("Mode"),
                    format!("The value '{other}' must be INLINE or DISTRIBUTED"),
                ),
            }
            match cf.string("ExecutionType", p).as_deref() {
                None | Some("STANDARD") | Some("EXPRESS") => {}
                Some(other) => p.schema(
                    &cf.ptr("ExecutionType"),
                    format!("The value '{other}' must be STANDARD or EXPRESS"),
                ),
            }
            cf.finish(p);
        }
        let processor = b.scope(&mut pf, p);
        pf.finish(p);

        let items_path = match f.raw("ItemsPath") {
            None => None,
            Some(v) => match v.as_str().map(|s| parse_path(s, true)) {
                Some(Ok(path)) => Some(path),
                Some(Err(msg)) => {
                    p.schema(&f.ptr("ItemsPath"), msg);
                    None
                }
                None => {
                    p.schema(
                        &f.ptr("ItemsPath"),
                        "The field 'ItemsPath' must be a reference path",
                    );
                    None
                }
            },
        };
        let selector_key = match (f.has("ItemSelector"), f.has("Parameters")) {
            (true, true) => {
                p.schema(
                    &f.at,
                    "A Map state cannot have both 'ItemSelector' and 'Parameters'",
                );
                None
            }
            (true, false) => Some("ItemSelector"),
            (false, true) => Some("Parameters"),
            (false, false) => None,
        };
        let item_selector = selector_key.and_then(|k| {
            let at = f.ptr(k);
            f.raw(k).map(|v| Template::parse(v, &at, p))
        });
        let max_concurrency = amount_u64(f, "MaxConcurrency", p);
        let tolerated_count = amount_u64(f, "ToleratedFailureCount", p);
        let tolerated_percentage = match f.number("ToleratedFailurePercentage", p) {
            Some(x) if (0.0..=100.0).contains(&x) => Some(Amount::Literal(x)),
            Some(_) => {
                p.schema(
                    &f.ptr("ToleratedFailurePercentage"),
                    "ToleratedFailurePercentage must be between 0 and 100",
                );
                None
            }
            None => path_amount(f, "ToleratedFailurePercentagePath", p),
        };
        let label = f.string("Label", p);
        let batcher = f.raw("ItemBatcher").cloned();
        f.raw("ResultWriter");
        if f.raw("ItemReader").is_some() {
            p.schema(
                &f.ptr("ItemReader"),
                "ItemReader (reading items from S3) is not supported by Stepwise yet",
            );
        }
        Some(Map {
            processor,
            distributed,
            items_path,
            item_selector,
            max_concurrency,
            tolerated_count,
            tolerated_percentage,
            label,
            batcher,
        })
    }

    pub fn reads_context(&self) -> bool {
        self.item_selector
            .as_ref()
            .is_some_and(Template::reads_context)
            || self
                .items_path
                .as_ref()
                .is_some_and(|p| p.root == Root::Context)
    }

    pub fn run(&self, s: &mut Step<'_>, t: &mut Thread, state: &State) {
        match self.prepare(s, t, state) {
            Ok(fanout) => s.fan_out(t, state, fanout),
            Err(e) => s.fail_state(t, state, e),
        }
    }

    fn prepare(
        &self,
        s: &mut Step<'_>,
        t: &mut Thread,
        state: &State,
    ) -> Result<Fanout, StatesError> {
        let input = s.effective_input(t, state, None)?;
        let items = match &self.items_path {
            None => input.clone(),
            Some(p) => s.with_scope(t, state, &input, None, |scope| {
                scope.resolve(p).map_err(|_| {
                    StatesError::runtime(format!(
                        "Invalid path '{p}' : No results for path: {}",
                        p.normalized()
                    ))
                })
            })?,
        };
        let mut items = match items {
            Value::Array(a) => a,
            other => {
                return Err(StatesError::runtime(format!(
                    "Invalid path '{}' : The Map state's items must be an array, but was: {other}",
                    self.items_path.as_ref().map_or("$", Path::text)
                )));
            }
        };
        if let Some(b) = &self.batcher {
            items = batch(items, b);
        }
        let raw = t.input.clone();
        let read = |s: &mut Step<'_>, p: &Path| {
            s.with_scope(t, state, &raw, None, |scope| Ok(scope.resolve(p).ok()))
        };
        let max_concurrency = match &self.max_concurrency {
            None => 0,
            Some(Amount::Literal(n)) => *n as usize,
            Some(Amount::Path(p)) => {
                let v = read(s, p)?;
                integer(v.as_ref()).filter(|n| *n >= 0).ok_or_else(|| {
                    StatesError::runtime(format!(
                        "The MaxConcurrencyPath field refers to value \"{}\" which is not a valid integer: {p}",
                        shown(v.as_ref())
                    ))
                })? as usize
            }
        };
        let tolerated_count = match &self.tolerated_count {
            None => None,
            Some(Amount::Literal(n)) => Some(*n),
            Some(Amount::Path(p)) => {
                let v = read(s, p)?;
                let n = integer(v.as_ref()).ok_or_else(|| {
                    StatesError::runtime(format!(
                        "The ToleratedFailureCountPath field refers to value \"{}\" which is not a valid integer: {p}",
                        shown(v.as_ref())
                    ))
                })?;
                if n < 0 {
                    return Err(StatesError::runtime(
                        "ToleratedFailureCount cannot be negative.",
                    ));
                }
                Some(n as u64)
            }
        };
        let tolerated_percentage = match &self.tolerated_percentage {
            None => None,
            Some(Amount::Literal(x)) => Some(*x),
            Some(Amount::Path(p)) => {
                let v = read(s, p)?;
                let x = v.as_ref().and_then(Value::as_f64).ok_or_else(|| {
                    StatesError::runtime(format!(
                        "The ToleratedFailurePercentagePath field refers to value \"{}\" which is not a valid float: {p}",
                        shown(v.as_ref())
                    ))
                })?;
                if !(0.0..=100.0).contains(&x) {
                    return Err(StatesError::runtime(
                        "ToleratedFailurePercentage must be between 0 and 100.",
                    ));
                }
                Some(x)
            }
        };
        let n = items.len();
        Ok(Fanout {
            total: n,
            started: 0,
            finished: 0,
            failed: 0,
            max_concurrency,
            tolerated_count,
            tolerated_percentage,
            results: vec![Value::Null; n],
            items,
            selector_input: if self.item_selector.is_some() {
                input
            } else {
                Value::Null
            },
            first_error: None,
        })
    }
}

fn integer(v: Option<&Value>) -> Option<i64> {
    v?.as_i64()
}

fn shown(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
        None => "null".into(),
    }
}

fn amount_u64(f: &mut Fields<'_>, key: &'static str, p: &mut Problems) -> Option<Amount<u64>> {
    if let Some(n) = f.uint(key, 99_999_999, p) {
        return Some(Amount::Literal(n));
    }
    let path_key: &'static str = match key {
        "MaxConcurrency" => "MaxConcurrencyPath",
        _ => "ToleratedFailureCountPath",
    };
    path_amount(f, path_key, p)
}

fn path_amount<T>(f: &mut Fields<'_>, key: &'static str, p: &mut Problems) -> Option<Amount<T>> {
    let v = f.raw(key)?;
    match v.as_str().map(|s| parse_path(s, true)) {
        Some(Ok(path)) => Some(Amount::Path(path)),
        _ => {
            p.schema(
                &f.ptr(key),
                format!("The field '{key}' must be a reference path"),
            );
            None
        }
    }
}

/// ItemBatcher: groups items into `{"Items": [...]}` batches (plus BatchInput).
fn batch(items: Vec<Value>, cfg: &Value) -> Vec<Value> {
    let per = cfg
        .get("MaxItemsPerBatch")
        .and_then(Value::as_u64)
        .unwrap_or(u64::MAX)
        .max(1) as usize;
    let input = cfg.get("BatchInput").cloned();
    items
        .chunks(per.min(items.len().max(1)))
        .map(|c| {
            let mut m = serde_json::Map::new();
            if let Some(i) = &input {
                m.insert("BatchInput".into(), i.clone());
            }
            m.insert("Items".into(), Value::Array(c.to_vec()));
            Value::Object(m)
        })
        .collect()
}
