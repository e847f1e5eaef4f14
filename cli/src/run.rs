//! `stepwise run`: one execution, in memory, result on the last line.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use serde_json::Value;
use stepwise_asl::{Options, StateMachine};
use stepwise_engine::catalog::Scope;
use stepwise_engine::memory::{local_execution_in, wall_clock};
use stepwise_engine::mock::Mocks;
use stepwise_engine::stepper::{Chaos, ExecutionRecord, Stepper, run_to_end};
use stepwise_engine::{Report, Runner, RunnerOptions};
use stepwise_local::stepper as stepper_db;

#[derive(clap::Args)]
pub struct Args {
    /// The definition file (ASL JSON); or --template.
    #[arg(conflicts_with = "template")]
    definition: Option<PathBuf>,
    #[command(flatten)]
    template: crate::template::deploy::Args,
    /// The template's state machine to run (its logical id).
    #[arg(long, requires = "template", conflicts_with = "definition")]
    state_machine: Option<String>,
    /// The execution input: JSON text, `@file`, or a file name.
    #[arg(long, default_value = "{}")]
    input: String,
    /// Skip over Waits and retry back-off instead of sleeping.
    #[arg(long)]
    fast_forward: bool,
    /// Run as an EXPRESS state machine.
    #[arg(long)]
    express: bool,
    /// The state machine's name (also selects it in the mock configuration).
    #[arg(long)]
    name: Option<String>,
    /// A mock configuration in AWS Step Functions Local's format.
    #[arg(long, requires = "test_case")]
    mock_config: Option<PathBuf>,
    /// The test case of the mock configuration to use.
    #[arg(long)]
    test_case: Option<String>,
    /// Print the history events (one JSON object per line) as they happen,
    /// before the result.
    #[arg(long)]
    history: bool,
    /// Add `states_entered` to the result line (keeps the history in memory).
    #[arg(long)]
    states_entered: bool,
    /// Where Lambda tasks go (default: AWS_ENDPOINT_URL_LAMBDA).
    #[arg(long, env = "AWS_ENDPOINT_URL_LAMBDA")]
    lambda_endpoint: Option<String>,
    /// Which engine runs it: `memory` (in process), `sqlite` (the embedded
    /// backend of `stepwise serve`: the serverless stepper on a SQLite store
    /// and queue in memory; `stepper` is another name for it) or `aws` (the
    /// serverless stepper on DynamoDB and SQS, at AWS_ENDPOINT_URL or on AWS).
    #[arg(long, value_enum, default_value_t = Backend::Memory)]
    backend: Backend,
    /// Serverless backends: duplicate, delay and reorder messages and abort
    /// the stepper at random points, deterministically from this seed.
    #[arg(long)]
    chaos: Option<u64>,
    /// The account in the execution's ARNs (and `$$` context) [default:
    /// STEPWISE_ACCOUNT_ID, else AWS_ACCOUNT_ID, else 123456789012]
    #[arg(long, default_value_t = Scope::account_from_env())]
    account: String,
    /// The region in the execution's ARNs.
    #[arg(long, default_value = "us-east-1")]
    region: String,
    #[command(flatten)]
    aws: crate::aws::AwsArgs,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Backend {
    Memory,
    #[value(alias = "stepper")]
    Sqlite,
    Aws,
}

pub fn main(mut args: Args) -> anyhow::Result<ExitCode> {
    let Some(definition) = args.definition.clone() else {
        // A template's machine runs under its name and type.
        let machine = crate::template::deploy::pick(&args.template, args.state_machine.as_deref())?;
        args.name.get_or_insert(machine.name);
        args.express |= machine.express;
        return run(args, machine.definition);
    };
    let text = std::fs::read_to_string(&definition)
        .with_context(|| format!("cannot read the definition {}", definition.display()))?;
    run(args, text)
}

fn run(args: Args, text: String) -> anyhow::Result<ExitCode> {
    let input = read_input(&args.input)?;
    let mut streamed = false;
    let mut report = match StateMachine::parse(
        &text,
        Options {
            express: args.express,
        },
    ) {
        Err(invalid) => Report::invalid(invalid.to_string()),
        Ok(machine) => {
            let mocks = match (&args.mock_config, &args.test_case) {
                (Some(path), Some(case)) => {
                    let config = std::fs::read_to_string(path).with_context(|| {
                        format!("cannot read the mock configuration {}", path.display())
                    })?;
                    Some(std::sync::Arc::new(Mocks::load(
                        &config,
                        args.name.as_deref(),
                        Some(case),
                    )?))
                }
                _ => None,
            };
            let name = args.name.clone().unwrap_or_else(|| {
                machine_name(args.definition.as_deref().unwrap_or(Path::new("")))
            });
            let exec = local_execution_in(
                &args.region,
                &args.account,
                &name,
                // As AWS names an execution started without a name (and
                // as `serve` does): a UUID, the same on every backend.
                &stepwise_engine::uuid(),
                input,
                wall_clock(),
                args.express,
            );
            let tasks = crate::aws::local_tasks::<stepwise_aws::service::AwsActions>(
                mocks,
                args.lambda_endpoint.clone(),
                None,
            );
            let options = RunnerOptions {
                fast_forward: args.fast_forward,
                seed: wall_clock() as u64,
                history: args.states_entered,
            };
            // Every engine runs on one runtime: the AWS SDK's clients that
            // service tasks call need its reactor (the in-memory runner on the
            // bare executor panicked on its first SQS, SNS, EventBridge or
            // DynamoDB task).
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            if args.backend == Backend::Memory || args.express {
                // EXPRESS executions need no durability: they run in one go,
                // their history streamed (when asked for) and not kept.
                let mut runner = Runner::new(&machine, exec, tasks, options);
                if args.history {
                    let mut out = std::io::BufWriter::new(std::io::stdout());
                    runner = runner.with_sink(move |r| {
                        use std::io::Write as _;
                        let _ = writeln!(out, "{}", r.to_json());
                    });
                }
                let report = runtime.block_on(runner.run());
                streamed = true;
                report
            } else {
                let record = ExecutionRecord::running(exec, text.clone(), false);
                let chaos = args.chaos.map(Chaos::new);
                runtime.block_on(async {
                    if args.backend == Backend::Aws {
                        crate::aws::run(
                            &args.aws,
                            tasks,
                            chaos,
                            &record,
                            &machine,
                            args.fast_forward,
                        )
                        .await
                    } else {
                        // The stepper's protocol on SQLite (in memory): the
                        // store and queue of the embedded backend.
                        let db = stepper_db::Db::open(None).map_err(|e| anyhow::anyhow!(e))?;
                        let queue = stepper_db::SqliteQueue::new(db.clone(), args.fast_forward);
                        let store = stepper_db::SqliteStore::new(db).with_every_activity();
                        let stepper = Stepper::new(store, &queue, tasks, chaos, options.seed);
                        run_to_end(&stepper, &queue, &record, &machine, args.fast_forward)
                            .await
                            .map_err(|e| anyhow::anyhow!(e))
                    }
                })?
            }
        }
    };
    if args.history && !streamed {
        for event in &report.history {
            println!("{}", event.to_json());
        }
    }
    // The same result line from every engine: `states_entered` when asked.
    if !args.states_entered {
        report.history.clear();
    }
    println!("{}", report.to_json());
    Ok(ExitCode::SUCCESS)
}

fn read_input(arg: &str) -> anyhow::Result<Value> {
    let text = if let Some(file) = arg.strip_prefix('@') {
        std::fs::read_to_string(file)
            .with_context(|| format!("cannot read the input file {file}"))?
    } else if let Ok(v) = serde_json::from_str::<Value>(arg) {
        return Ok(v);
    } else if Path::new(arg).is_file() {
        std::fs::read_to_string(arg).with_context(|| format!("cannot read the input file {arg}"))?
    } else {
        anyhow::bail!("the input is neither JSON nor a readable file: {arg}");
    };
    serde_json::from_str(&text).context("the input is not valid JSON")
}

fn machine_name(path: &Path) -> String {
    path.file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("stepwise")
        .to_owned()
}
