//! Map: runs its ItemProcessor once per item, `MaxConcurrency` at a time, and
//! tolerates up to `ToleratedFailureCount`/`Percentage` failed items.

use serde_json::{Value, json};

use crate::definition::fields::{Fields, parse_path};
use crate::definition::problem::{Problems, only_one};
use crate::definition::{Builder, Lang, ScopeId, State};
use crate::error::{ErrorName, StatesError};
use crate::exec::{EventType, Fanout, Step, Thread};
use crate::jsonata::{JTemplate, expression_text, type_name};
use crate::path::{Path, Root};
use crate::template::Template;

use super::batcher::Batcher;
pub(crate) use super::map_io::{Reader, Writer, Written};
use super::map_io::{reader, writer};

/// What an ItemReader reads, given its call (`Parameters` and the
/// evaluated `ReaderConfig`): TestState's `mapItemReaderData`.
pub type ReadData<'r> = dyn Fn(&Value) -> Result<Vec<Value>, StatesError> + 'r;

/// A number given literally, read from the input by a path (JSONPath), or
/// computed by an expression (JSONata).
#[derive(Debug, Clone)]
pub enum Amount {
    Literal(f64),
    Path(Path),
    Expr(JTemplate),
}

#[derive(Debug, Clone)]
pub enum Selector {
    Path(Template),
    /// A JSONata ItemSelector, and what it may read: `$states.input` (the
    /// Map's input) and the execution's input in `$states.context` are
    /// built for each item only when it does (each is as large as the
    /// items together).
    Ata {
        template: JTemplate,
        reads_input: bool,
        reads_execution: bool,
    },
}

#[derive(Debug, Clone)]
pub struct Map {
    pub processor: ScopeId,
    pub distributed: bool,
    /// A distributed Map whose children are STANDARD executions (with
    /// records and histories of their own; EXPRESS children keep none).
    pub standard_children: bool,
    pub items_path: Option<Path>,
    /// JSONata `Items`.
    pub items: Option<JTemplate>,
    pub item_selector: Option<Selector>,
    pub max_concurrency: Option<Amount>,
    pub tolerated_count: Option<Amount>,
    pub tolerated_percentage: Option<Amount>,
    pub label: Option<String>,
    pub batcher: Option<Batcher>,
    pub reader: Option<Reader>,
    pub writer: Option<Writer>,
}

/// A Map's `Label`, as AWS allows it in a Map Run's ARN: 1 to 40
/// characters, none of them whitespace, a control character, a wildcard,
/// a bracket or one of AWS's special characters (the list below).
fn label(f: &mut Fields<'_>, p: &mut Problems) -> Option<String> {
    let label = f.string("Label", p)?;
    let bad = label.chars().find(|c| {
        c.is_whitespace()
            || c.is_control()
            || ('\u{7f}'..='\u{9f}').contains(c)
            || "?*<>{}[]:;,\\|^~$#%&`\"".contains(*c)
    });
    let problem = if label.is_empty() {
        Some("The field 'Label' cannot be empty".to_owned())
    } else if label.chars().count() > 40 {
        Some("The field 'Label' cannot be longer than 40 characters".to_owned())
    } else {
        bad.map(|c| format!("The field 'Label' contains a character it cannot: {c:?}"))
    };
    if let Some(message) = problem {
        p.schema(&f.ptr("Label"), message);
        return None;
    }
    Some(label)
}

impl Map {
    pub fn parse(f: &mut Fields<'_>, b: &mut Builder, p: &mut Problems) -> Option<Map> {
        let lang = b.current;
        let (processor, distributed, standard_children) = processor(f, b, p)?;
        let mut map = Map {
            processor,
            distributed,
            standard_children,
            items_path: None,
            items: None,
            item_selector: None,
            max_concurrency: None,
            tolerated_count: None,
            tolerated_percentage: None,
            label: label(f, p),
            batcher: None,
            reader: None,
            writer: None,
        };
        if let Some(b) = f.raw("ItemBatcher") {
            map.batcher = Batcher::parse(b, &f.ptr("ItemBatcher"), lang, p);
        }
        if let Some(w) = f.raw("ResultWriter") {
            map.writer = writer(w, &f.ptr("ResultWriter"), lang, p);
        }
        if let Some(r) = f.raw("ItemReader") {
            map.reader = reader(r, &f.ptr("ItemReader"), lang, p);
        }
        if lang == Lang::JsonAta {
            let at = f.ptr("Items");
            map.items = f.raw("Items").map(|v| JTemplate::parse(v, "Items", &at, p));
            let at = f.ptr("ItemSelector");
            map.item_selector = f.raw("ItemSelector").map(|v| Selector::Ata {
                template: JTemplate::parse(v, "ItemSelector", &at, p),
                reads_input: crate::definition::states_beyond(v, &[".context"]),
                reads_execution: crate::definition::states_beyond(
                    v,
                    &[
                        ".input",
                        ".context.Map",
                        ".context.State",
                        ".context.StateMachine",
                        ".context.Task",
                    ],
                ),
            });
            map.max_concurrency = ata_amount(f, "MaxConcurrency", p);
            map.tolerated_count = ata_amount(f, "ToleratedFailureCount", p);
            map.tolerated_percentage = ata_amount(f, "ToleratedFailurePercentage", p);
            return Some(map);
        }
        map.items_path = match f.raw("ItemsPath") {
            None => None,
            Some(v) => match v.as_str().map(|s| parse_path("ItemsPath", s, true)) {
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
                // Both are Map fields: this one problem, not two more.
                f.raw("ItemSelector");
                f.raw("Parameters");
                None
            }
            (true, false) => Some("ItemSelector"),
            (false, true) => Some("Parameters"),
            (false, false) => None,
        };
        map.item_selector = selector_key.and_then(|k| {
            let at = f.ptr(k);
            f.raw(k).map(|v| Selector::Path(Template::parse(v, &at, p)))
        });
        map.max_concurrency = path_amount(f, "MaxConcurrency", "MaxConcurrencyPath", p);
        map.tolerated_count =
            path_amount(f, "ToleratedFailureCount", "ToleratedFailureCountPath", p);
        map.tolerated_percentage = path_amount(
            f,
            "ToleratedFailurePercentage",
            "ToleratedFailurePercentagePath",
            p,
        );
        if let Some(Amount::Literal(x)) = map.tolerated_percentage
            && !(0.0..=100.0).contains(&x)
        {
            p.schema(
                &f.ptr("ToleratedFailurePercentage"),
                "ToleratedFailurePercentage must be between 0 and 100",
            );
        }
        Some(map)
    }

    pub fn reads_context(&self) -> bool {
        matches!(&self.item_selector, Some(Selector::Path(t)) if t.reads_context())
            || self
                .items_path
                .as_ref()
                .is_some_and(|p| p.root == Root::Context)
    }

    pub fn run(&self, s: &mut Step<'_>, t: &mut Thread, state: &State) {
        if let Some(r) = &self.reader {
            // AWS records MapStateStarted before it looks at the reader's
            // settings (a MaxItemsPath that is not a whole number fails
            // after it), and counts no items (the Map Run reads them).
            s.record(t, EventType::MapStateStarted, || json!({"length": 0}));
            match self.reader_call(s, t, state, r) {
                Ok(payload) => s.map_call(t, state, &r.resource, payload, false),
                Err(e) => s.fail_state(t, state, e),
            }
            return;
        }
        match self.prepare(s, t, state, None) {
            Ok(fanout) => s.fan_out(t, state, fanout),
            Err(e) => s.fail_state(t, state, e),
        }
    }

    /// The input of iteration `index`: the item, or ItemSelector over it.
    pub fn select(
        &self,
        s: &mut Step<'_>,
        t: &Thread,
        f: &Fanout,
        index: usize,
        item: &Value,
    ) -> Result<Value, StatesError> {
        match &self.item_selector {
            None => Ok(item.clone()),
            Some(Selector::Path(sel)) => {
                // The context object is built for every item, and the
                // execution's input in it is often all the items: copied
                // each time, it made a Map's time grow with their square.
                let context = if sel.reads_context() {
                    s.exec
                        .item_context(t, index, item, sel.reads_execution_input())
                } else {
                    Value::Null
                };
                let mut scope = crate::scope::Scope {
                    input: &f.selector_input,
                    context: &context,
                    variables: &t.variables,
                    random: &mut s.random,
                };
                sel.eval(&mut scope)
            }
            Some(Selector::Ata {
                template: sel,
                reads_input,
                reads_execution,
            }) => {
                let context = s.exec.item_context(t, index, item, *reads_execution);
                let mut states = serde_json::Map::new();
                if *reads_input {
                    states.insert("input".into(), f.selector_input.clone());
                }
                states.insert("context".into(), context);
                let b = crate::jsonata::Bindings::new(
                    states,
                    &t.variables,
                    s.now(),
                    s.random.next_u64(),
                );
                sel.eval(&b)
            }
        }
    }

    fn items(
        &self,
        s: &mut Step<'_>,
        t: &Thread,
        state: &State,
        input: &Value,
    ) -> Result<Vec<Value>, StatesError> {
        let ata_error = |msg: String| StatesError::new(ErrorName::QueryEvaluationError, msg);
        if let Some(items) = &self.items {
            return match s.eval_ata(t, state, items, &[])? {
                Value::Array(a) => Ok(a),
                other => Err(ata_error(format!(
                    "The JSONata expression '{}' specified for the field 'Items' returned an unexpected result type. Expected 'array', but was '{}' for value: {other}",
                    items.source(),
                    type_name(&other)
                ))),
            };
        }
        let items = match &self.items_path {
            None => input.clone(),
            Some(p) => s.with_scope(t, state, input, None, |scope| {
                scope.resolve(p).map_err(|_| scope.not_found(p))
            })?,
        };
        match items {
            Value::Array(a) => Ok(a),
            other if state.ata.is_some() => Err(ata_error(format!(
                "Map state input must be an array but was: {other}"
            ))),
            // AWS's words (recorded through TestState): the path as read
            // from its document's root, `$$.Execution.Input` as
            // `$.Execution.Input`.
            _ => {
                let path = self.items_path.as_ref().map_or("$", Path::text);
                let path = path
                    .strip_prefix('$')
                    .filter(|p| p.starts_with('$'))
                    .unwrap_or(path);
                Err(StatesError::runtime(format!(
                    "Reference path \"{path}\" must point to array."
                )))
            }
        }
    }

    /// The items and settings of the iterations, recording MapStateStarted
    /// in AWS's order: failures of the items and MaxConcurrency come before
    /// it, those of the tolerated failure settings after (a Map with an
    /// ItemReader recorded it before reading, `run`).
    pub(super) fn prepare(
        &self,
        s: &mut Step<'_>,
        t: &mut Thread,
        state: &State,
        read: Option<Vec<Value>>,
    ) -> Result<Fanout, StatesError> {
        let input = s.effective_input(t, state, None)?;
        let read_items = read.is_some();
        let mut items = match read {
            Some(items) => items,
            None => self.items(s, t, state, &input)?,
        };
        if let Some(b) = &self.batcher {
            items = b.batch(s, t, state, self, &input, items)?;
        }
        let max_concurrency =
            match self.amount(s, t, state, &self.max_concurrency, "MaxConcurrency", true)? {
                None => 0,
                Some(n) if n < 0.0 => {
                    return Err(StatesError::runtime("MaxConcurrency cannot be negative."));
                }
                Some(n) => n as usize,
            };
        // Items an ItemReader read are not counted when the Map starts:
        // AWS records `length` 0 for them (LocalStack's ItemReader and
        // ItemBatcher tests, recorded on AWS in November 2024), and records
        // it before it reads them (`run`).
        if !read_items {
            let length = items.len();
            s.record(t, EventType::MapStateStarted, || json!({"length": length}));
        }
        let tolerated_count = match self.amount(
            s,
            t,
            state,
            &self.tolerated_count,
            "ToleratedFailureCount",
            true,
        )? {
            Some(n) if n < 0.0 => {
                return Err(StatesError::runtime(
                    "ToleratedFailureCount cannot be negative.",
                ));
            }
            other => other.map(|n| n as u64),
        };
        let tolerated_percentage = match self.amount(
            s,
            t,
            state,
            &self.tolerated_percentage,
            "ToleratedFailurePercentage",
            false,
        )? {
            Some(x) if !(0.0..=100.0).contains(&x) => {
                return Err(StatesError::runtime(
                    "ToleratedFailurePercentage must be between 0 and 100.",
                ));
            }
            other => other,
        };
        let n = items.len();
        // With batches, how many items each child runs (for the Map Run's
        // item counts).
        let sizes = match &self.batcher {
            Some(_) => (items.iter())
                .map(|b| b["Items"].as_array().map_or(0, |a| a.len() as u32))
                .collect(),
            None => Vec::new(),
        };
        Ok(Fanout {
            max_concurrency,
            tolerated_count,
            tolerated_percentage,
            items,
            selector_input: if self.item_selector.is_some() {
                input
            } else {
                Value::Null
            },
            sizes,
            writes: self.writer.is_some(),
            ..Fanout::new(n)
        })
    }

    /// Resolves an amount; strings holding a number are accepted, as AWS does.
    /// TestState's inspection of this Map on its input: its items after
    /// ItemsPath (JSONPath), after ItemBatcher and each iteration's input
    /// after ItemSelector, and its settings; with the fan-out it would run.
    pub(crate) fn inspect(
        &self,
        s: &mut Step<'_>,
        t: &mut Thread,
        state: &State,
        read: &ReadData<'_>,
    ) -> Result<(serde_json::Map<String, Value>, Fanout), StatesError> {
        let mut data = serde_json::Map::new();
        let items = match &self.reader {
            Some(r) => {
                let payload = self.reader_call(s, t, state, r)?;
                let items = read(&payload)?;
                if payload["ReaderConfig"].get("ItemsPointer").is_some() {
                    let shown = Value::Array(items.clone()).to_string();
                    data.insert("afterItemsPointer".into(), shown.into());
                }
                items
            }
            None => {
                let input = s.effective_input(t, state, None)?;
                let items = self.items(s, t, state, &input)?;
                if self.items.is_none() {
                    let shown = Value::Array(items.clone()).to_string();
                    data.insert("afterItemsPath".into(), shown.into());
                }
                items
            }
        };
        let f = self.prepare(s, t, state, Some(items))?;
        if self.batcher.is_some() {
            data.insert(
                "afterItemBatcher".into(),
                Value::Array(f.items.clone()).to_string().into(),
            );
        }
        if self.item_selector.is_some() {
            let selected = (f.items.iter().enumerate())
                .map(|(i, item)| self.select(s, t, &f, i, item))
                .collect::<Result<Vec<Value>, StatesError>>()?;
            data.insert(
                "afterItemSelector".into(),
                Value::Array(selected).to_string().into(),
            );
        }
        if let Some(n) = f.tolerated_count {
            data.insert("toleratedFailureCount".into(), n.into());
        }
        if let Some(p) = f.tolerated_percentage {
            data.insert("toleratedFailurePercentage".into(), p.into());
        }
        if self.max_concurrency.is_some() {
            data.insert("maxConcurrency".into(), f.max_concurrency.into());
        }
        Ok((data, f))
    }

    pub(super) fn amount(
        &self,
        s: &mut Step<'_>,
        t: &Thread,
        state: &State,
        amount: &Option<Amount>,
        field: &str,
        integer: bool,
    ) -> Result<Option<f64>, StatesError> {
        let kind = if integer { "integer" } else { "float" };
        let (value, path) = match amount {
            None => return Ok(None),
            Some(Amount::Literal(x)) => return Ok(Some(*x)),
            Some(Amount::Path(p)) => {
                let input = t.input.clone();
                (
                    s.with_scope(t, state, &input, None, |scope| scope.resolve(p).ok()),
                    p.text().to_owned(),
                )
            }
            Some(Amount::Expr(e)) => {
                let v = s.eval_ata(t, state, e, &[])?;
                return number(&v, integer).map(Some).ok_or_else(|| {
                    StatesError::new(
                        ErrorName::QueryEvaluationError,
                        format!("The JSONata expression '{}' specified for the field '{field}' returned an unexpected result type. Expected '{kind}', but was '{}' for value: {v}", e.source(), type_name(&v)),
                    )
                });
            }
        };
        let shown = match &value {
            Some(Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
            None => "null".into(),
        };
        value.as_ref().and_then(|v| number(v, integer)).map(Some).ok_or_else(|| {
            StatesError::runtime(format!("The {field}Path field refers to value \"{shown}\" which is not a valid {kind}: {path}"))
        })
    }
}

pub(super) fn number(v: &Value, integer: bool) -> Option<f64> {
    let x = match v {
        Value::Number(n) => n.as_f64()?,
        Value::String(s) => s.trim().parse::<f64>().ok()?,
        _ => return None,
    };
    (!integer || x.fract() == 0.0).then_some(x)
}

fn processor(
    f: &mut Fields<'_>,
    b: &mut Builder,
    p: &mut Problems,
) -> Option<(ScopeId, bool, bool)> {
    let key = match (f.has("ItemProcessor"), f.has("Iterator")) {
        (true, false) => "ItemProcessor",
        (false, true) => "Iterator",
        (true, true) => {
            p.schema(&f.at, only_one(&["ItemProcessor", "Iterator"]));
            return None;
        }
        (false, false) => {
            p.schema(&f.at, "These fields are required: [ItemProcessor]");
            return None;
        }
    };
    let proc_at = f.ptr(key);
    let obj = f.object(
        if key == "Iterator" {
            "Iterator"
        } else {
            "ItemProcessor"
        },
        p,
    )?;
    let mut pf = Fields::new(obj, proc_at);
    pf.string("Comment", p);
    pf.raw("QueryLanguage");
    let mut distributed = false;
    let mut standard = false;
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
            Some("STANDARD") => standard = true,
            None | Some("EXPRESS") => {}
            Some(other) => p.schema(
                &cf.ptr("ExecutionType"),
                format!("The value '{other}' must be STANDARD or EXPRESS"),
            ),
        }
        cf.finish(p);
    }
    let lang = b.current;
    let scope = b.scope(&mut pf, p);
    b.current = lang;
    pf.finish(p);
    Some((scope, distributed, distributed && standard))
}

fn path_amount(
    f: &mut Fields<'_>,
    key: &'static str,
    path_key: &'static str,
    p: &mut Problems,
) -> Option<Amount> {
    f.one_of_pair(key, path_key, p);
    if let Some(v) = f.raw(key) {
        return match v.as_f64().filter(|x| *x >= 0.0) {
            Some(x) => Some(Amount::Literal(x)),
            None => {
                p.schema(
                    &f.ptr(key),
                    format!("The field '{key}' must be a non-negative number"),
                );
                None
            }
        };
    }
    let v = f.raw(path_key)?;
    match v.as_str().map(|s| parse_path(path_key, s, true)) {
        Some(Ok(path)) => Some(Amount::Path(path)),
        _ => {
            p.schema(
                &f.ptr(path_key),
                format!("The field '{path_key}' must be a reference path"),
            );
            None
        }
    }
}

fn ata_amount(f: &mut Fields<'_>, key: &'static str, p: &mut Problems) -> Option<Amount> {
    let at = f.ptr(key);
    let v = f.raw(key)?;
    match v {
        Value::Number(n) => Some(Amount::Literal(n.as_f64().unwrap_or(0.0))),
        Value::String(s) if expression_text(s).is_some() => {
            Some(Amount::Expr(JTemplate::parse(v, key, &at, p)))
        }
        _ => {
            p.schema(
                &at,
                format!("The field '{key}' must be a number or a JSONata expression"),
            );
            None
        }
    }
}
