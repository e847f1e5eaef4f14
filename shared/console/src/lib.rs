//! Graphs of a state machine as the AWS Step Functions console draws them:
//! Start at the top, End at the bottom, every state a box, Choice rules
//! and catchers as labelled edges, Parallel branches and a Map's item
//! processor as boxes inside their state. Given an execution's history,
//! each state is coloured by what happened to it, in the console's legend:
//! succeeded green, failed red, caught orange, running blue, not reached
//! grey.
//!
//! One [`graph`] function serves both the `stepwise graph` command and the
//! web console, in three formats:
//!
//! - [`Format::Mermaid`]: a `flowchart TD` for Markdown (GitHub renders it);
//! - [`Format::Dot`]: a Graphviz `digraph`, for `dot -Tpng`;
//! - [`Format::Svg`]: a finished picture, laid out here.
//!
//! ```
//! use serde_json::json;
//! use stepwise_console::{Format, graph};
//!
//! let definition = json!({
//!     "StartAt": "Hello",
//!     "States": {"Hello": {"Type": "Pass", "End": true}}
//! });
//! let mermaid = graph(&definition, None, Format::Mermaid).unwrap();
//! assert!(mermaid.contains("Start --> Hello"));
//!
//! let history = [
//!     json!({"id": 1, "previousEventId": 0, "type": "ExecutionStarted"}),
//!     json!({"id": 2, "previousEventId": 1, "type": "PassStateEntered",
//!            "stateEnteredEventDetails": {"name": "Hello"}}),
//! ];
//! let mermaid = graph(&definition, Some(&history), Format::Mermaid).unwrap();
//! assert!(mermaid.contains("class Hello running"));
//! ```
//!
//! The definition is read as JSON, not through `stepwise-asl`: that parse
//! insists on a valid machine, and a graph should draw what it can. A
//! `Next` to a state that does not exist becomes a dashed placeholder, a
//! missing `States` a note, a loop an upward edge; flows nested deeper than
//! [`MAX_DEPTH`] are drawn as plain boxes with a note. No input panics.
//!
//! # Why the SVG layout is written here
//!
//! The layout (`layers.rs` for one flow, `layout.rs` for the nesting,
//! some 600 lines together) is the classic layered method: loops broken by
//! a depth-first search, layers by longest path from Start, dummy points
//! for long edges, barycenter sweeps against crossings, nodes centred
//! under their parents, polyline edges with arrowheads. What crates.io
//! offers for it did not fit:
//!
//! - `rust-sugiyama` lays out flat graphs on top of `petgraph`; a Parallel
//!   or Map state needs its flows drawn as boxes inside it;
//! - `dagre` (a port of dagre.js, with compound graphs) is a 0.1 release of
//!   a 27-step pipeline with network simplex ranking and four directions, a
//!   lot of code to take on for machines of tens of states;
//! - `bra0-layout` is young (with yanked releases) and lays out flat
//!   graphs; `dagre-rs` is another young port of dagre.js.
//!
//! A small pass written for this one picture keeps the crate at one
//! dependency (`serde_json`; no I/O, nothing tied to a platform) and its
//! output byte-stable for golden tests: integer coordinates, decided by the
//! input order alone.

#![forbid(unsafe_code)]

mod choice;
mod dot;
mod history;
mod layers;
mod layout;
mod mermaid;
mod model;
mod palette;
mod svg;

use std::str::FromStr;

use serde_json::Value;

pub use model::MAX_DEPTH;

/// The web console's style sheet, served by `stepwise serve` at
/// `/console/console.css`: the pages work offline, with no build step.
pub const CSS: &str = include_str!("../assets/console.css");
/// The web console's script (vanilla JavaScript), at `/console/console.js`.
pub const JS: &str = include_str!("../assets/console.js");

/// The output format of [`graph`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Mermaid,
    Dot,
    Svg,
}

impl FromStr for Format {
    type Err = String;

    /// `mermaid`, `dot` or `svg`.
    fn from_str(s: &str) -> Result<Format, String> {
        match s.to_ascii_lowercase().as_str() {
            "mermaid" | "mmd" => Ok(Format::Mermaid),
            "dot" | "graphviz" | "gv" => Ok(Format::Dot),
            "svg" => Ok(Format::Svg),
            _ => Err(format!("unknown graph format '{s}' (mermaid, dot or svg)")),
        }
    }
}

/// The graph of `definition` (an ASL definition, as a JSON object or as
/// the JSON text DescribeStateMachine returns) in `format`, coloured by
/// `history` (GetExecutionHistory events) when one is given.
///
/// Fails only when there is nothing to draw: the definition is not a JSON
/// object.
pub fn graph(
    definition: &Value,
    history: Option<&[Value]>,
    format: Format,
) -> Result<String, String> {
    let parsed;
    let definition = match definition {
        Value::String(text) => {
            parsed = serde_json::from_str::<Value>(text)
                .map_err(|e| format!("the definition is not JSON: {e}"))?;
            &parsed
        }
        other => other,
    };
    if !definition.is_object() {
        return Err("the definition is not a JSON object".to_owned());
    }
    let mut g = model::Graph::build(definition);
    if let Some(events) = history {
        g.colour(&history::statuses(events));
    }
    Ok(match format {
        Format::Mermaid => mermaid::render(&g),
        Format::Dot => dot::render(&g),
        Format::Svg => svg::render(&g),
    })
}
