//! The optimized integrations that are one service API call (Athena, Glue,
//! Batch, ECS, CodeBuild, SageMaker, EMR, EMR Serverless, EKS, MediaConvert,
//! Bedrock, DataBrew, …): `arn:aws:states:::<service>:<action>` calls the
//! action through the model-driven SDK integration, with the parameters as
//! given; `.sync` then polls the job it started as Step Functions does,
//! until it ends, and answers with what the job's describe action says (or
//! fails the task with `States.TaskFailed` and that description).

use serde_json::Value;
use stepwise_asl::StatesError;
use stepwise_engine::ports::{Progress, TaskResult};

use super::emr::{emr_by_name, emr_request, emr_response};
use super::job_table::{follow, stop};
use crate::Clients;

/// A Step Functions service name → the model's name.
fn model_name(service: &str, action: &str) -> Option<&'static str> {
    Some(match (service, action) {
        ("bedrock", "invokeModel") => "bedrock-runtime",
        ("bedrock", _) => "bedrock",
        ("athena", _) => "athena",
        ("glue", _) => "glue",
        ("batch", _) => "batch",
        ("ecs", _) => "ecs",
        ("eks", _) => "eks",
        ("codebuild", _) => "codebuild",
        ("sagemaker", _) => "sagemaker",
        ("elasticmapreduce", _) => "emr",
        ("emr-serverless", _) => "emr-serverless",
        ("emr-containers", _) => "emr-containers",
        ("mediaconvert", _) => "mediaconvert",
        ("databrew", _) => "databrew",
        ("evidently", _) => "evidently",
        ("apigateway", "invoke") => return None,
        _ => return None,
    })
}

/// Whether `service` is one of these integrations.
pub fn handles(service: &str) -> bool {
    model_name(service, "").is_some()
}

/// Whether `resource` (`<service>:<action>[.pattern]`) is a `.sync` job
/// this follows with [`look`] once [`start`] started it.
pub fn follows(resource: &str) -> bool {
    let (service, rest) = resource.split_once(':').unwrap_or((resource, ""));
    let (action, pattern) = rest.split_once('.').unwrap_or((rest, ""));
    pattern.starts_with("sync")
        && (follow(service, action).is_some() || (service, action) == ("eks", "runJob"))
}

/// `<service>:<action>[.sync|.waitForTaskToken]`: the call (for `.sync`,
/// the one that starts the job), blocking; `None` if it is not one of
/// these integrations.
pub fn start(clients: &Clients, resource: &str, parameters: &Value) -> Option<TaskResult> {
    let (service, rest) = resource.split_once(':')?;
    let (action, pattern) = rest.split_once('.').unwrap_or((rest, ""));
    match (service, action) {
        ("eks", "call") => return Some(super::eks::call(clients, parameters)),
        ("eks", "runJob") => return Some(super::eks::start_job(clients, parameters)),
        _ => {}
    }
    let model = model_name(service, action)?;
    if pattern.starts_with("sync") && follow(service, action).is_none() {
        return Some(Err(StatesError::custom(
            "States.Runtime",
            format!("Stepwise does not follow {service}:{action} jobs (.sync) yet"),
        )));
    }
    let (api_action, api_parameters) = match emr_by_name(clients, service, action, parameters) {
        Some(Ok(request)) => request,
        Some(Err(e)) => return Some(Err(e)),
        None => emr_request(service, action, parameters).unwrap_or((action, parameters.clone())),
    };
    let mut started = match crate::sdk::call(clients, model, api_action, &api_parameters) {
        Ok(v) => emr_response(service, action, v),
        Err(e) => return Some(Err(e)),
    };
    if (service, action) == ("glue", "startJobRun")
        && let (Some(o), Some(name)) = (started.as_object_mut(), parameters.get("JobName"))
    {
        // As Step Functions does: the job's name beside its run id.
        o.insert("JobName".into(), name.clone());
    }
    if (service, action) == ("bedrock", "invokeModel")
        && let Some(Value::String(body)) = started.get("Body")
        && let Ok(parsed) = serde_json::from_str::<Value>(body)
    {
        started["Body"] = parsed;
    }
    Some(Ok(started))
}

/// One look at the job a `.sync` task started (`started`: the start's
/// answer): still running, or its end as the task's result (a job that
/// failed is `States.TaskFailed` with its description). With `stop`, the
/// task gave up on it: it is stopped, best effort.
pub fn look(
    clients: &Clients,
    resource: &str,
    parameters: &Value,
    started: &Value,
    stop: bool,
) -> Progress {
    let (service, rest) = resource.split_once(':').unwrap_or((resource, ""));
    let action = rest.split('.').next().unwrap_or(rest);
    if (service, action) == ("eks", "runJob") {
        return super::eks::look_job(clients, parameters, started, stop);
    }
    let (Some(model), Some(f)) = (model_name(service, action), follow(service, action)) else {
        return Progress::Done(Err(StatesError::runtime(format!(
            "Stepwise does not follow {service}:{action} jobs (.sync)"
        ))));
    };
    if stop {
        if let Some((stop_action, request)) = self::stop(service, action) {
            let _ = crate::sdk::call(clients, model, stop_action, &request(parameters, started));
        }
        return Progress::Done(Err(StatesError::custom(
            "States.TaskFailed",
            "The task no longer waits for the job: it was stopped",
        )));
    }
    let request = (f.request)(parameters, started);
    let described = match crate::sdk::call(clients, model, f.describe, &request) {
        Ok(v) => v,
        Err(e)
            if f.gone
                && e.error
                    .as_deref()
                    .is_some_and(|n| n.ends_with("ResourceNotFoundException")) =>
        {
            return Progress::Done(Ok(started.clone()));
        }
        // A passing failure (throttled, the service busy): look again later.
        Err(e) if passing(&e) => return Progress::Running,
        Err(e) => return Progress::Done(Err(e)),
    };
    let job = (f.job)(&described);
    match (f.status)(&job) {
        Some(s) if f.succeeded.contains(&s.as_str()) => Progress::Done(Ok(if f.keeps_answer {
            started.clone()
        } else {
            (f.result)(&described)
        })),
        Some(s) if f.failed.contains(&s.as_str()) => Progress::Done(Err(StatesError::custom(
            "States.TaskFailed",
            job.to_string(),
        ))),
        Some(_) => Progress::Running,
        // The describe action does not know the job (an empty list, a
        // not-found entry): it will not end.
        None if job.is_null() => Progress::Done(Err(StatesError::custom(
            "States.TaskFailed",
            format!("The {service} job could not be found: {described}"),
        ))),
        None => Progress::Running,
    }
}

/// Whether a failed describe call may succeed when made again: throttling
/// or the service's own failure (not a missing job, not a bad request).
fn passing(e: &StatesError) -> bool {
    let name = e.error.as_deref().unwrap_or_default();
    [
        "Throttling",
        "TooManyRequests",
        "RequestLimitExceeded",
        "ServiceUnavailable",
        "InternalServer",
        "InternalFailure",
        "InternalError",
    ]
    .iter()
    .any(|kind| name.contains(kind))
}
