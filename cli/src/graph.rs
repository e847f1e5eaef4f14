//! `stepwise graph`: a definition drawn as the Step Functions console draws
//! it, in Mermaid, DOT or SVG, its states coloured by an execution's
//! history when one is given.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use serde_json::Value;
use stepwise_console::Format;

#[derive(Clone, Copy, clap::ValueEnum)]
enum GraphFormat {
    /// A Mermaid `flowchart TD` (for Markdown).
    Mermaid,
    /// A Graphviz `digraph` (for `dot -Tpng`).
    Dot,
    /// A finished SVG picture.
    Svg,
}

#[derive(clap::Args)]
pub struct Args {
    /// The definition file (ASL JSON).
    definition: PathBuf,
    /// The output format.
    #[arg(long, value_enum, default_value_t = GraphFormat::Mermaid)]
    format: GraphFormat,
    /// Colour each state by an execution's history: the event lines
    /// `stepwise run --history` prints, or a GetExecutionHistory answer.
    #[arg(long)]
    history: Option<PathBuf>,
    /// Write the graph to this file instead of standard output.
    #[arg(long, short)]
    output: Option<PathBuf>,
}

pub fn main(args: Args) -> anyhow::Result<ExitCode> {
    let text = std::fs::read_to_string(&args.definition)
        .with_context(|| format!("cannot read {}", args.definition.display()))?;
    let definition: Value = serde_json::from_str(&text)
        .with_context(|| format!("{} is not JSON", args.definition.display()))?;
    let history = args.history.as_deref().map(read_history).transpose()?;
    let format = match args.format {
        GraphFormat::Mermaid => Format::Mermaid,
        GraphFormat::Dot => Format::Dot,
        GraphFormat::Svg => Format::Svg,
    };
    let graph = stepwise_console::graph(&definition, history.as_deref(), format)
        .map_err(|e| anyhow::anyhow!("{}: {e}", args.definition.display()))?;
    match &args.output {
        Some(path) => std::fs::write(path, graph)
            .with_context(|| format!("cannot write {}", path.display()))?,
        None => print!("{graph}"),
    }
    Ok(ExitCode::SUCCESS)
}

/// The events of a history file: a GetExecutionHistory answer
/// (`{"events": [...]}`), a JSON array of events, or one event per line.
/// Lines that are not events (the result line `stepwise run --history`
/// ends with) are left for the graph to skip.
fn read_history(path: &Path) -> anyhow::Result<Vec<Value>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    match serde_json::from_str::<Value>(&text) {
        Ok(Value::Object(mut answer)) if answer.contains_key("events") => {
            match answer.remove("events") {
                Some(Value::Array(events)) => Ok(events),
                _ => anyhow::bail!("{}: events is not a list", path.display()),
            }
        }
        Ok(Value::Array(events)) => Ok(events),
        // One event per line (a file of one line is one event).
        _ => text
            .lines()
            .enumerate()
            .filter(|(_, line)| !line.trim().is_empty())
            .map(|(i, line)| {
                serde_json::from_str(line)
                    .with_context(|| format!("{}:{}: not a JSON event", path.display(), i + 1))
            })
            .collect(),
    }
}
