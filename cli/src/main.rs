//! `stepwise`: run a workflow locally, validate or draw a definition, serve the API.

mod aws;
mod call;
mod console;
mod graph;
mod run;
mod serve;
mod template;
mod validate;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "stepwise",
    version,
    about = "Amazon States Language workflows, locally and on AWS"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run one execution and print its result as the last line.
    Run(run::Args),
    /// Check a definition as CreateStateMachine does; print every problem.
    Validate(validate::Args),
    /// Serve the AWS Step Functions API (for the AWS CLI, boto3, the SDKs).
    Serve(serve::Args),
    /// Call a deployed Stepwise API with a SigV4-signed request.
    Call(call::Args),
    /// Draw a definition (Mermaid, DOT or SVG), coloured by a history if given.
    Graph(graph::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => run::main(args),
        Command::Validate(args) => validate::main(args),
        Command::Serve(args) => serve::main(args),
        Command::Call(args) => call::main(args),
        Command::Graph(args) => graph::main(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("stepwise: {e:#}");
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    /// clap checks its definitions only when a command parses: check them
    /// all here (two flattened groups of one name once panicked at run time).
    #[test]
    fn the_command_line_is_well_formed() {
        use clap::CommandFactory as _;
        super::Cli::command().debug_assert();
    }
}
