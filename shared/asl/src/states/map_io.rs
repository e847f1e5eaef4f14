//! A Distributed Map's S3 I/O as the step function sees it: the
//! `ItemReader` and `ResultWriter` fields, and the calls the Map state makes
//! for them (the drivers route them like any task; `stepwise-aws` reads and
//! writes S3).

use serde_json::{Value, json};

use super::map::Map;
use crate::definition::fields::parse_path;
use crate::definition::problem::{Problems, only_one};
use crate::definition::{Lang, State};
use crate::error::StatesError;
use crate::exec::{Fanout, Step, Thread};
use crate::jsonata::JTemplate;
use crate::path::Path;
use crate::template::Template;

/// Where a Distributed Map reads its items: an S3 object (`s3:getObject`,
/// JSON, JSONL, CSV or a manifest, as `ReaderConfig` says) or a listing
/// (`s3:listObjectsV2`). The call goes out as a task of the Map state; its
/// result is the items.
#[derive(Debug, Clone)]
pub struct Reader {
    pub resource: String,
    pub parameters: Option<ReaderArgs>,
    /// `ReaderConfig` as written (JSONata: evaluated).
    pub config: Option<ReaderArgs>,
    /// JSONPath `ReaderConfig.MaxItemsPath`.
    pub max_items_path: Option<Path>,
}

#[derive(Debug, Clone)]
pub enum ReaderArgs {
    Path(Template),
    Ata(JTemplate),
}

impl ReaderArgs {
    /// The value, over the state's effective `input` (JSONPath) or its
    /// `$states` (JSONata).
    fn eval(
        &self,
        s: &mut Step<'_>,
        t: &Thread,
        state: &State,
        input: &Value,
    ) -> Result<Value, StatesError> {
        match self {
            ReaderArgs::Path(tpl) => s.with_scope(t, state, input, None, |scope| tpl.eval(scope)),
            ReaderArgs::Ata(j) => s.eval_ata(t, state, j, &[]),
        }
    }
}

/// Where a Distributed Map writes its results (`ResultWriter`): S3 with
/// `arn:aws:states:::s3:putObject` and `Parameters`/`Arguments` (`Bucket`,
/// `Prefix`), and/or how to shape them (`WriterConfig`).
#[derive(Debug, Clone)]
pub struct Writer {
    pub resource: Option<String>,
    pub parameters: Option<ReaderArgs>,
    pub config: Option<ReaderArgs>,
}

/// What a ResultWriter makes of the results: the state's output at once
/// (a transformation without S3), or a call to make.
pub enum Written {
    Output(Value),
    Call(String, Value),
}

/// The resources an ItemReader may name.
const READERS: [&str; 2] = [
    "arn:aws:states:::s3:getObject",
    "arn:aws:states:::s3:listObjectsV2",
];

impl Map {
    /// The ItemReader's answer: the items (an array; anything else is one).
    pub fn items_read(&self, s: &mut Step<'_>, t: &mut Thread, state: &State, read: Value) {
        let items = match read {
            Value::Array(a) => a,
            other => vec![other],
        };
        match self.prepare(s, t, state, Some(items)) {
            Ok(fanout) => s.fan_out(t, state, fanout),
            Err(e) => s.fail_state(t, state, e),
        }
    }

    /// The results of a Map with a ResultWriter: transformed at once
    /// (`WriterConfig` alone), or the call that writes them to S3 with
    /// what it needs (the Map Run, each result and whether it failed).
    pub fn write_call(
        &self,
        s: &mut Step<'_>,
        t: &Thread,
        state: &State,
        w: &Writer,
        f: &Fanout,
        results: Vec<Value>,
    ) -> Result<Written, StatesError> {
        let input = s.effective_input(t, state, None)?;
        let eval = |args: &ReaderArgs, s: &mut Step<'_>| args.eval(s, t, state, &input);
        let config = match &w.config {
            Some(a) => eval(a, s)?,
            None => json!({}),
        };
        let Some(resource) = &w.resource else {
            let flatten = config["Transformation"] == "FLATTEN";
            return Ok(Written::Output(Value::Array(if flatten {
                results
                    .into_iter()
                    .flat_map(|r| match r {
                        Value::Array(a) => a,
                        other => vec![other],
                    })
                    .collect()
            } else {
                results
            })));
        };
        let mut payload = match &w.parameters {
            Some(a) => eval(a, s)?,
            None => json!({}),
        };
        let failed: std::collections::HashSet<usize> = f.failed_items.iter().copied().collect();
        let entries: Vec<Value> = results
            .into_iter()
            .enumerate()
            .map(|(i, r)| {
                let status = if failed.contains(&i) {
                    "FAILED"
                } else {
                    "SUCCEEDED"
                };
                json!({"Index": i, "Status": status, "Output": r})
            })
            .collect();
        if let Some(o) = payload.as_object_mut() {
            o.insert("WriterConfig".into(), config);
            o.insert(
                "MapRunArn".into(),
                f.map_run.clone().map_or(Value::Null, Value::String),
            );
            o.insert(
                "StateMachineArn".into(),
                s.exec.state_machine_arn.clone().into(),
            );
            o.insert("Results".into(), Value::Array(entries));
        }
        Ok(Written::Call(resource.clone(), payload))
    }

    /// What the ItemReader call sends: its parameters, with the
    /// `ReaderConfig` (its `MaxItemsPath` resolved to `MaxItems`).
    pub(super) fn reader_call(
        &self,
        s: &mut Step<'_>,
        t: &Thread,
        state: &State,
        r: &Reader,
    ) -> Result<Value, StatesError> {
        let input = s.effective_input(t, state, None)?;
        let eval = |args: &ReaderArgs, s: &mut Step<'_>| args.eval(s, t, state, &input);
        let mut payload = match &r.parameters {
            Some(a) => eval(a, s)?,
            None => json!({}),
        };
        let mut config = match &r.config {
            Some(a) => eval(a, s)?,
            None => json!({}),
        };
        if let Some(path) = &r.max_items_path {
            let n = s.with_scope(t, state, &input, None, |scope| {
                scope.resolve(path).map_err(|_| scope.not_found(path))
            })?;
            // A count that is not a whole number fails the state (read as
            // every other count is); a negative one fails the reader
            // (States.ItemReaderFailed).
            let Some(count) = super::map::number(&n, true) else {
                let shown = n.as_str().map_or_else(|| n.to_string(), str::to_owned);
                return Err(StatesError::runtime(format!(
                    "The MaxItemsPath field refers to value \"{shown}\" which is not a valid integer: {}",
                    path.text()
                )));
            };
            if let Some(c) = config.as_object_mut() {
                c.remove("MaxItemsPath");
                // (A count past i64's range saturates: it reads everything.)
                c.insert("MaxItems".into(), (count as i64).into());
            }
        }
        if let Some(o) = payload.as_object_mut() {
            o.insert("ReaderConfig".into(), config);
        }
        Ok(payload)
    }
}

/// An `ItemReader`: its resource (one of [`READERS`], in any partition,
/// region and account), `Parameters` (JSONPath) or `Arguments` (JSONata),
/// and `ReaderConfig`.
pub(super) fn reader(v: &Value, at: &str, lang: Lang, p: &mut Problems) -> Option<Reader> {
    let Some(o) = v.as_object() else {
        p.schema(at, "The field 'ItemReader' must be an object");
        return None;
    };
    let resource = match o.get("Resource").and_then(Value::as_str) {
        Some(r) => r.to_owned(),
        None => {
            p.schema(at, "The field 'Resource' is required in 'ItemReader'");
            return None;
        }
    };
    let canonical = crate::definition::resource::canonical(&resource);
    if !READERS.contains(&canonical.as_ref()) {
        p.schema(
            &format!("{at}/Resource"),
            format!(
                "The resource '{resource}' cannot read a Map's items: an ItemReader reads with arn:aws:states:::s3:getObject or arn:aws:states:::s3:listObjectsV2"
            ),
        );
        return None;
    }
    let args = |key: &str, p: &mut Problems| args_of(o, key, at, lang, p);
    let parameters = match lang {
        Lang::JsonAta => args("Arguments", p),
        Lang::JsonPath => args("Parameters", p),
    };
    let mut max_items_path = None;
    let config = match (lang, o.get("ReaderConfig")) {
        (_, None) => None,
        (Lang::JsonAta, Some(_)) => args("ReaderConfig", p),
        (Lang::JsonPath, Some(c)) => {
            let config_at = format!("{at}/ReaderConfig");
            if c.get("MaxItems").is_some() && c.get("MaxItemsPath").is_some() {
                p.schema(&config_at, only_one(&["MaxItems", "MaxItemsPath"]));
            }
            if c.get("MaxItems")
                .and_then(Value::as_f64)
                .is_some_and(|n| n > 100_000_000.0)
            {
                p.schema(
                    &format!("{config_at}/MaxItems"),
                    "ReaderConfig.MaxItems has Maximum value is 100000000",
                );
            }
            if let Some(mp) = c.get("MaxItemsPath") {
                match mp.as_str().map(|s| parse_path("MaxItemsPath", s, true)) {
                    Some(Ok(path)) => max_items_path = Some(path),
                    _ => p.schema(
                        &format!("{at}/ReaderConfig/MaxItemsPath"),
                        "The field 'MaxItemsPath' must be a reference path",
                    ),
                }
            }
            Some(ReaderArgs::Path(Template::Literal(c.clone())))
        }
    };
    Some(Reader {
        resource,
        parameters,
        config,
        max_items_path,
    })
}

/// A field of an ItemReader or ResultWriter that may hold paths (JSONPath)
/// or expressions (JSONata).
fn args_of(
    o: &serde_json::Map<String, Value>,
    key: &str,
    at: &str,
    lang: Lang,
    p: &mut Problems,
) -> Option<ReaderArgs> {
    o.get(key).map(|v| {
        let at = format!("{at}/{key}");
        match lang {
            Lang::JsonAta => ReaderArgs::Ata(JTemplate::parse(v, key, &at, p)),
            Lang::JsonPath => ReaderArgs::Path(Template::parse(v, &at, p)),
        }
    })
}

/// A `ResultWriter`: `Resource` (only `s3:putObject`) with its
/// `Parameters`/`Arguments`, and `WriterConfig`; at least one of them.
pub(super) fn writer(v: &Value, at: &str, lang: Lang, p: &mut Problems) -> Option<Writer> {
    let Some(o) = v.as_object() else {
        p.schema(at, "The field 'ResultWriter' must be an object");
        return None;
    };
    let resource = o.get("Resource").and_then(Value::as_str).map(str::to_owned);
    if let Some(r) = &resource
        && crate::definition::resource::canonical(r) != "arn:aws:states:::s3:putObject"
    {
        p.schema(
            &format!("{at}/Resource"),
            format!("The resource '{r}' cannot write a Map's results: a ResultWriter writes with arn:aws:states:::s3:putObject"),
        );
        return None;
    }
    if resource.is_none() && !o.contains_key("WriterConfig") {
        p.schema(at, "A ResultWriter needs a 'Resource' or a 'WriterConfig'");
        return None;
    }
    let args = |key: &str, p: &mut Problems| args_of(o, key, at, lang, p);
    Some(Writer {
        resource,
        parameters: match lang {
            Lang::JsonAta => args("Arguments", p),
            Lang::JsonPath => args("Parameters", p),
        },
        config: args("WriterConfig", p),
    })
}
