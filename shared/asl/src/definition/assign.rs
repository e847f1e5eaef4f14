//! `Assign` (workflow variables) and the JSONata data-flow fields
//! (`Arguments`, `Output`).

use serde_json::Value;

use super::fields::Fields;
use super::problem::Problems;
use crate::jsonata::JTemplate;
use crate::template::Template;

/// Which query language a state's fields are written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    JsonPath,
    JsonAta,
}

/// Variables a state assigns when it completes.
#[derive(Debug, Clone)]
pub enum Assign {
    /// JSONPath: `"name.$": "$.path"`, read against the state's result.
    Path(Template),
    /// JSONata: `"name": "{% expr %}"`.
    Ata(JTemplate),
}

/// `$states` is reserved; variable names are identifiers.
fn check_names(obj: &serde_json::Map<String, Value>, at: &str, p: &mut Problems) {
    for k in obj.keys() {
        let name = k.strip_suffix(".$").unwrap_or(k);
        if name == "states" {
            p.schema(
                at,
                "The variable name 'states' is reserved and cannot be assigned",
            );
        } else if name.is_empty()
            || !name.chars().all(|c| c.is_alphanumeric() || c == '_')
            || name.starts_with(|c: char| c.is_ascii_digit())
        {
            p.schema(at, format!("The variable name '{name}' is not valid: use letters, digits and underscores, not starting with a digit"));
        }
    }
}

impl Assign {
    pub fn parse(lang: Lang, f: &mut Fields<'_>, p: &mut Problems) -> Option<Assign> {
        let at = f.ptr("Assign");
        let v = f.raw("Assign")?;
        let Some(obj) = v.as_object() else {
            p.schema(&at, "The field 'Assign' must be an object");
            return None;
        };
        check_names(obj, &at, p);
        Some(match lang {
            Lang::JsonPath => Assign::Path(Template::parse(v, &at, p)),
            Lang::JsonAta => Assign::Ata(JTemplate::parse(v, "Assign", &at, p)),
        })
    }

    pub fn reads_context(&self) -> bool {
        match self {
            Assign::Path(t) => t.reads_context(),
            Assign::Ata(_) => false,
        }
    }
}

/// A JSONata state's `Arguments` and `Output`.
#[derive(Debug, Clone, Default)]
pub struct AtaFlow {
    pub arguments: Option<JTemplate>,
    pub output: Option<JTemplate>,
}

impl AtaFlow {
    pub fn parse(
        arguments_allowed: bool,
        output_allowed: bool,
        f: &mut Fields<'_>,
        p: &mut Problems,
    ) -> AtaFlow {
        let mut flow = AtaFlow::default();
        if arguments_allowed {
            let at = f.ptr("Arguments");
            if let Some(v) = f.raw("Arguments") {
                flow.arguments = Some(JTemplate::parse(v, "Arguments", &at, p));
            }
        }
        if output_allowed {
            let at = f.ptr("Output");
            if let Some(v) = f.raw("Output") {
                flow.output = Some(JTemplate::parse(v, "Output", &at, p));
            }
        }
        flow
    }
}
