//! Catchers: on a matched error, go to `Next` with the error output placed by
//! `ResultPath` (JSONPath) or shaped by `Output` (JSONata), and assign variables.

use crate::definition::fields::Fields;
use crate::definition::problem::Problems;
use crate::definition::{Assign, Lang, Selector};
use crate::error::StatesError;
use crate::jsonata::JTemplate;
use crate::path::Root;
use crate::retry::{error_equals, matches_any};

#[derive(Debug, Clone)]
pub struct Catcher {
    pub error_equals: Vec<String>,
    pub next: String,
    pub result_path: Selector,
    /// JSONata: what the next state receives (default `$states.errorOutput`).
    pub output: Option<JTemplate>,
    pub assign: Option<Assign>,
}

impl Catcher {
    pub fn parse_all(lang: Lang, f: &mut Fields<'_>, p: &mut Problems) -> Vec<Catcher> {
        let at = f.ptr("Catch");
        let Some(list) = f.array("Catch", p) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (i, v) in list.iter().enumerate() {
            let here = format!("{at}[{i}]");
            let Some(obj) = v.as_object() else {
                p.schema(&here, "A catcher must be an object");
                continue;
            };
            let mut c = Fields::new(obj, here);
            let error_equals = error_equals(&mut c, p, i + 1 == list.len());
            let next = c.required_string("Next", p).unwrap_or_default();
            let mut output = None;
            let result_path = if lang == Lang::JsonPath {
                match c.path("ResultPath", true, p) {
                    None => Selector::Whole,
                    Some(None) => Selector::Null,
                    Some(Some(path)) if path.segments.is_empty() && path.root == Root::Input => {
                        Selector::Whole
                    }
                    Some(Some(path)) => Selector::Path(path),
                }
            } else {
                let at = c.ptr("Output");
                output = c
                    .raw("Output")
                    .map(|v| JTemplate::parse(v, "Output", &at, p));
                Selector::Whole
            };
            let assign = Assign::parse(lang, &mut c, p);
            c.string("Comment", p);
            c.finish(p);
            out.push(Catcher {
                error_equals,
                next,
                result_path,
                output,
                assign,
            });
        }
        out
    }

    pub fn matches(&self, error: &StatesError) -> bool {
        matches_any(&self.error_equals, error)
    }
}
