//! The data-flow fields every state type shares a subset of:
//! InputPath → Parameters → (state) → ResultSelector → ResultPath → OutputPath.

use serde_json::{Map, Value};

use super::fields::Fields;
use super::problem::Problems;
use crate::error::{ErrorName, StatesError};
use crate::path::{self, Path, Root};
use crate::scope::{Scope, Unresolved};
use crate::states::Kind;
use crate::template::Template;

/// A path field that may be absent (`$`), `null`, or a path.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Selector {
    #[default]
    Whole,
    Null,
    Path(Path),
}

impl Selector {
    fn from_field(v: Option<Option<Path>>) -> Selector {
        match v {
            None => Selector::Whole,
            Some(None) => Selector::Null,
            Some(Some(p)) if p.segments.is_empty() && p.root == Root::Input => Selector::Whole,
            Some(Some(p)) => Selector::Path(p),
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct DataFlow {
    pub input_path: Selector,
    pub parameters: Option<Template>,
    pub result_selector: Option<Template>,
    pub result_path: Selector,
    pub output_path: Selector,
}

impl DataFlow {
    pub fn parse(kind: &Kind, f: &mut Fields<'_>, p: &mut Problems) -> DataFlow {
        let allowed = kind.data_fields();
        let mut flow = DataFlow::default();
        if allowed.input_output {
            flow.input_path = Selector::from_field(f.path("InputPath", false, p));
            flow.output_path = Selector::from_field(f.path("OutputPath", false, p));
        }
        if allowed.result_path {
            flow.result_path = Selector::from_field(f.path("ResultPath", true, p));
        }
        if allowed.parameters
            && let Some(v) = f.raw("Parameters")
        {
            flow.parameters = Some(Template::parse(v, &f.ptr("Parameters"), p));
        }
        if allowed.result_selector
            && let Some(v) = f.raw("ResultSelector")
        {
            if !v.is_object() {
                p.schema(
                    &f.ptr("ResultSelector"),
                    "The field 'ResultSelector' must be an object",
                );
            }
            flow.result_selector = Some(Template::parse(v, &f.ptr("ResultSelector"), p));
        }
        flow
    }

    pub fn reads_context(&self) -> bool {
        let path_reads = |s: &Selector| matches!(s, Selector::Path(p) if p.root == Root::Context);
        path_reads(&self.input_path)
            || path_reads(&self.output_path)
            || self
                .parameters
                .as_ref()
                .is_some_and(Template::reads_context)
            || self
                .result_selector
                .as_ref()
                .is_some_and(Template::reads_context)
    }

    /// InputPath then Parameters: the state's effective input.
    pub fn effective_input(&self, scope: &mut Scope<'_>) -> Result<Value, StatesError> {
        let selected = select(&self.input_path, scope)?;
        match &self.parameters {
            None => Ok(selected),
            Some(t) => {
                let mut inner = Scope {
                    input: &selected,
                    context: scope.context,
                    variables: scope.variables,
                    random: scope.random,
                };
                t.eval(&mut inner)
            }
        }
    }

    /// ResultSelector, ResultPath and OutputPath over a result.
    pub fn output(
        &self,
        raw_input: &Value,
        result: Value,
        scope: &mut Scope<'_>,
    ) -> Result<Value, StatesError> {
        let result = match &self.result_selector {
            None => result,
            Some(t) => {
                let mut inner = Scope {
                    input: &result,
                    context: scope.context,
                    variables: scope.variables,
                    random: scope.random,
                };
                t.eval(&mut inner)?
            }
        };
        let combined = apply_result_path(&self.result_path, raw_input, result)?;
        let mut out_scope = Scope {
            input: &combined,
            context: scope.context,
            variables: scope.variables,
            random: scope.random,
        };
        match &self.output_path {
            Selector::Whole => Ok(combined),
            other => select(other, &mut out_scope),
        }
    }
}

/// The data flow of a JSONPath state stage by stage, as TestState's
/// inspection data shows it: the input after InputPath and after
/// Parameters, then, for a state with a raw `result`, that result, after
/// ResultSelector and after ResultPath. A stage that fails ends the list.
pub fn stages(
    flow: &DataFlow,
    input: &Value,
    result: Option<Value>,
    scope: &mut Scope<'_>,
) -> Vec<(&'static str, Value)> {
    let mut out = Vec::new();
    let Some(selected) = at(input, scope, &|s| select(&flow.input_path, s)) else {
        return out;
    };
    out.push(("afterInputPath", selected.clone()));
    let parameters = match &flow.parameters {
        None => Some(selected.clone()),
        Some(t) => at(&selected, scope, &|s| t.eval(s)),
    };
    let Some(parameters) = parameters else {
        return out;
    };
    out.push(("afterParameters", parameters));
    let Some(result) = result else { return out };
    out.push(("result", result.clone()));
    let selected = match &flow.result_selector {
        None => Some(result),
        Some(t) => at(&result, scope, &|s| t.eval(s)),
    };
    let Some(selected) = selected else { return out };
    out.push(("afterResultSelector", selected.clone()));
    if let Ok(combined) = apply_result_path(&flow.result_path, input, selected) {
        out.push(("afterResultPath", combined));
    }
    out
}

/// `f` in `scope` with `$` = `input`; `None` if it fails.
fn at(
    input: &Value,
    scope: &mut Scope<'_>,
    f: &dyn Fn(&mut Scope<'_>) -> Result<Value, StatesError>,
) -> Option<Value> {
    let mut inner = Scope {
        input,
        context: scope.context,
        variables: scope.variables,
        random: scope.random,
    };
    f(&mut inner).ok()
}

/// Applies an InputPath/OutputPath-style selector to the scope's input.
pub fn select(selector: &Selector, scope: &mut Scope<'_>) -> Result<Value, StatesError> {
    match selector {
        Selector::Whole => Ok(scope.input.clone()),
        Selector::Null => Ok(Value::Object(Map::new())),
        Selector::Path(p) => scope.resolve(p).map_err(|u| match u {
            Unresolved::TooMany => Unresolved::too_many(p, "InputPath/OutputPath"),
            _ => scope.not_found(p),
        }),
    }
}

pub fn apply_result_path(
    selector: &Selector,
    raw_input: &Value,
    result: Value,
) -> Result<Value, StatesError> {
    match selector {
        Selector::Whole => Ok(result),
        Selector::Null => Ok(raw_input.clone()),
        Selector::Path(p) => {
            let mut doc = raw_input.clone();
            path::set(p, &mut doc, result).map_err(|_| {
                StatesError::new(
                    ErrorName::ResultPathMatchFailure,
                    format!("Unable to apply ReferencePath {p} to input {raw_input}"),
                )
            })?;
            Ok(doc)
        }
    }
}
