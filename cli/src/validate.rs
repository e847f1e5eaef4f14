//! `stepwise validate`: every problem of a definition, one per line.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use stepwise_asl::{Options, StateMachine};

#[derive(clap::Args)]
pub struct Args {
    /// The definition file (ASL JSON).
    definition: PathBuf,
    /// Validate as an EXPRESS state machine.
    #[arg(long)]
    express: bool,
}

pub fn main(args: Args) -> anyhow::Result<ExitCode> {
    let text = std::fs::read_to_string(&args.definition)
        .with_context(|| format!("cannot read {}", args.definition.display()))?;
    match StateMachine::parse(
        &text,
        Options {
            express: args.express,
        },
    ) {
        Ok(_) => {
            println!("valid");
            Ok(ExitCode::SUCCESS)
        }
        Err(invalid) => {
            for p in &invalid.0 {
                println!("{p}");
            }
            Ok(ExitCode::from(1))
        }
    }
}
