//! `--template` on the command line: read a template from disk, and for
//! `stepwise serve` create its machines through the API and keep them up to
//! date while the files change.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use serde_json::{Value, json};
use stepwise_engine::api::Service;

use super::{Context, Machine, Template};

#[derive(clap::Args)]
#[group(id = "template_args")]
pub struct Args {
    /// An AWS SAM or CloudFormation template whose state machines to use
    /// (`DefinitionUri` files are read relative to it).
    #[arg(long)]
    pub template: Option<PathBuf>,
    /// The template's parameters, `Key=Value` (as `sam deploy` takes them).
    #[arg(long, num_args = 1.., value_parser = parse_override, requires = "template")]
    pub parameter_overrides: Vec<(String, String)>,
}

fn parse_override(s: &str) -> Result<(String, String), String> {
    // `sam deploy` also takes CloudFormation's long form.
    let long = s
        .strip_prefix("ParameterKey=")
        .and_then(|rest| rest.split_once(",ParameterValue="));
    match long.or_else(|| s.split_once('=')) {
        Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), v.to_owned())),
        _ => Err(format!("expected Key=Value, got {s:?}")),
    }
}

/// The template at `path`, resolved for the account and region of the
/// environment (`STEPWISE_ACCOUNT_ID` or `AWS_ACCOUNT_ID`, `AWS_REGION`).
pub fn load(path: &Path, overrides: &[(String, String)]) -> anyhow::Result<Template> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the template {}", path.display()))?;
    let region = std::env::var("AWS_REGION").unwrap_or_else(|_| "us-east-1".into());
    let account = stepwise_engine::catalog::Scope::account_from_env();
    let cx = Context {
        file: path,
        overrides,
        region: &region,
        account: &account,
    };
    Ok(super::parse(&text, &cx, &|p| std::fs::read_to_string(p))?)
}

/// The machine `id` (or the only one) of the template in `args`.
pub fn pick(args: &Args, id: Option<&str>) -> anyhow::Result<Machine> {
    let path = args
        .template
        .as_deref()
        .context("give a definition file (ASL JSON) or --template <template.yaml>")?;
    let template = load(path, &args.parameter_overrides)?;
    Ok(super::select(&template.machines, id, path)?.clone())
}

/// Creates the template's machines in `service` and, with `watch`, spawns a
/// task that updates them whenever the template or a definition changes.
pub async fn serve(service: &Arc<dyn Service>, args: &Args, watch: bool) -> anyhow::Result<()> {
    let Some(path) = args.template.clone() else {
        return Ok(());
    };
    let template = load(&path, &args.parameter_overrides)?;
    let mut deployed = HashMap::new();
    for machine in template.machines {
        let arn = create(service.as_ref(), &machine)
            .await
            .with_context(|| format!("cannot create the state machine {}", machine.name))?;
        deployed.insert(machine.logical_id.clone(), (arn, machine));
    }
    if watch {
        let (service, overrides) = (service.clone(), args.parameter_overrides.clone());
        tokio::spawn(async move {
            let mut last_error = None;
            loop {
                tokio::time::sleep(Duration::from_secs(1)).await;
                let result = sync(service.as_ref(), &path, &overrides, &mut deployed).await;
                // Said once per new error, not every second: the machines
                // keep their last good definition meanwhile.
                let error = result.err().map(|e| format!("{e:#}"));
                if let Some(e) = error.as_ref().filter(|e| last_error.as_ref() != Some(*e)) {
                    eprintln!("stepwise: {e}");
                }
                last_error = error;
            }
        });
    }
    Ok(())
}

/// One poll: the template read again, and each machine that changed updated
/// (or created, when new).
async fn sync(
    service: &dyn Service,
    path: &Path,
    overrides: &[(String, String)],
    deployed: &mut HashMap<String, (String, Machine)>,
) -> anyhow::Result<()> {
    let template = load(path, overrides)?;
    for machine in template.machines {
        let id = machine.logical_id.clone();
        match deployed.get(&id) {
            Some((_, old)) if *old == machine => continue,
            Some((arn, _)) => {
                let arn = arn.clone();
                update(service, &arn, &machine)
                    .await
                    .with_context(|| format!("cannot update the state machine {}", machine.name))?;
                eprintln!(
                    "stepwise: updated the state machine {} from {}",
                    machine.name,
                    path.display()
                );
                deployed.insert(id, (arn, machine));
            }
            None => {
                let arn = create(service, &machine)
                    .await
                    .with_context(|| format!("cannot create the state machine {}", machine.name))?;
                eprintln!(
                    "stepwise: created the state machine {} from {}",
                    machine.name,
                    path.display()
                );
                deployed.insert(id, (arn, machine));
            }
        }
    }
    Ok(())
}

/// CreateStateMachine; a machine of that name kept from an earlier run (in
/// the durable store) is updated instead.
async fn create(service: &dyn Service, machine: &Machine) -> anyhow::Result<String> {
    let request = json!({
        "name": machine.name,
        "definition": machine.definition,
        "roleArn": machine.role,
        "type": if machine.express { "EXPRESS" } else { "STANDARD" },
    });
    match service.call("CreateStateMachine", request).await {
        Ok(reply) => Ok(reply["stateMachineArn"]
            .as_str()
            .unwrap_or_default()
            .to_owned()),
        Err(e) if e.code == "StateMachineAlreadyExists" => {
            let arn = find(service, &machine.name).await?.context(e)?;
            update(service, &arn, machine).await?;
            Ok(arn)
        }
        Err(e) => Err(e.into()),
    }
}

async fn update(service: &dyn Service, arn: &str, machine: &Machine) -> anyhow::Result<()> {
    let request = json!({
        "stateMachineArn": arn,
        "definition": machine.definition,
        "roleArn": machine.role,
    });
    service.call("UpdateStateMachine", request).await?;
    Ok(())
}

/// The ARN of the machine called `name`, through ListStateMachines.
async fn find(service: &dyn Service, name: &str) -> anyhow::Result<Option<String>> {
    let mut token = Value::Null;
    loop {
        let mut request = json!({ "maxResults": 1000 });
        if !token.is_null() {
            request["nextToken"] = token;
        }
        let page = service.call("ListStateMachines", request).await?;
        let machines = page["stateMachines"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        if let Some(m) = machines.iter().find(|m| m["name"] == name) {
            return Ok(m["stateMachineArn"].as_str().map(str::to_owned));
        }
        token = page["nextToken"].clone();
        if token.is_null() {
            return Ok(None);
        }
    }
}
