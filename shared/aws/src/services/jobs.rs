//! The optimized integrations that are one service API call (Athena, Glue,
//! Batch, ECS, CodeBuild, SageMaker, EMR, EMR Serverless, EKS, MediaConvert,
//! Bedrock, DataBrew, …): `arn:aws:states:::<service>:<action>` calls the
//! action through the model-driven SDK integration, with the parameters as
//! given; `.sync` then polls the job it started as Step Functions does,
//! until it ends, and answers with what the job's describe action says (or
//! fails the task with `States.TaskFailed` and that description).

use serde_json::{Value, json};
use stepwise_asl::StatesError;
use stepwise_engine::ports::{Abandoned, Progress, TaskResult};
use stepwise_engine::tasks::follow_blocking;

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

/// How a `.sync` task follows the job it started.
struct Follow {
    /// The describe action.
    describe: &'static str,
    /// Its parameters, from the start's parameters and answer.
    request: fn(&Value, &Value) -> Value,
    /// The job's description within the describe answer.
    job: fn(&Value) -> Value,
    /// Its status within the job.
    status: fn(&Value) -> Option<String>,
    succeeded: &'static [&'static str],
    failed: &'static [&'static str],
    /// The task's result from the describe answer.
    result: fn(&Value) -> Value,
    /// A deletion: the job is done once the describe action no longer
    /// finds it (`…ResourceNotFoundException`).
    gone: bool,
}

fn follow(service: &str, action: &str) -> Option<Follow> {
    fn at(v: &Value, path: &[&str]) -> Option<String> {
        let mut v = v;
        for p in path {
            v = v.get(*p)?;
        }
        v.as_str().map(str::to_owned)
    }
    Some(match (service, action) {
        ("athena", "startQueryExecution") => Follow {
            describe: "getQueryExecution",
            request: |_, a| json!({"QueryExecutionId": a["QueryExecutionId"]}),
            job: |d| d["QueryExecution"].clone(),
            status: |j| at(j, &["Status", "State"]),
            succeeded: &["SUCCEEDED"],
            failed: &["FAILED", "CANCELLED"],
            result: Value::clone,
            gone: false,
        },
        ("glue", "startJobRun") => Follow {
            describe: "getJobRun",
            request: |p, a| json!({"JobName": p["JobName"], "RunId": a["JobRunId"]}),
            job: |d| d["JobRun"].clone(),
            status: |j| at(j, &["JobRunState"]),
            succeeded: &["SUCCEEDED"],
            failed: &["FAILED", "ERROR", "TIMEOUT", "STOPPED"],
            result: |d| d["JobRun"].clone(),
            gone: false,
        },
        ("batch", "submitJob") => Follow {
            describe: "describeJobs",
            request: |_, a| json!({"Jobs": [a["JobId"]]}),
            job: |d| d["Jobs"][0].clone(),
            status: |j| at(j, &["Status"]),
            succeeded: &["SUCCEEDED"],
            failed: &["FAILED"],
            result: |d| d["Jobs"][0].clone(),
            gone: false,
        },
        ("ecs", "runTask") => Follow {
            describe: "describeTasks",
            request: |p, a| {
                json!({"Cluster": p.get("Cluster").cloned().unwrap_or(Value::Null),
                       "Tasks": [a["Tasks"][0]["TaskArn"]]})
            },
            job: |d| d["Tasks"][0].clone(),
            status: |j| at(j, &["LastStatus"]),
            succeeded: &["STOPPED"],
            failed: &[],
            result: |d| json!({"Tasks": d["Tasks"]}),
            gone: false,
        },
        ("codebuild", "startBuild") => Follow {
            describe: "batchGetBuilds",
            request: |_, a| json!({"Ids": [a["Build"]["Id"]]}),
            job: |d| d["Builds"][0].clone(),
            status: |j| at(j, &["BuildStatus"]),
            succeeded: &["SUCCEEDED"],
            failed: &["FAILED", "FAULT", "STOPPED", "TIMED_OUT"],
            result: |d| json!({"Build": d["Builds"][0]}),
            gone: false,
        },
        ("sagemaker", "createTrainingJob") => Follow {
            describe: "describeTrainingJob",
            request: |p, _| json!({"TrainingJobName": p["TrainingJobName"]}),
            job: Value::clone,
            status: |j| at(j, &["TrainingJobStatus"]),
            succeeded: &["Completed"],
            failed: &["Failed", "Stopped"],
            result: Value::clone,
            gone: false,
        },
        ("sagemaker", "createTransformJob") => Follow {
            describe: "describeTransformJob",
            request: |p, _| json!({"TransformJobName": p["TransformJobName"]}),
            job: Value::clone,
            status: |j| at(j, &["TransformJobStatus"]),
            succeeded: &["Completed"],
            failed: &["Failed", "Stopped"],
            result: Value::clone,
            gone: false,
        },
        ("sagemaker", "createProcessingJob") => Follow {
            describe: "describeProcessingJob",
            request: |p, _| json!({"ProcessingJobName": p["ProcessingJobName"]}),
            job: Value::clone,
            status: |j| at(j, &["ProcessingJobStatus"]),
            succeeded: &["Completed"],
            failed: &["Failed", "Stopped"],
            result: Value::clone,
            gone: false,
        },
        ("mediaconvert", "createJob") => Follow {
            describe: "getJob",
            request: |_, a| json!({"Id": a["Job"]["Id"]}),
            job: |d| d["Job"].clone(),
            status: |j| at(j, &["Status"]),
            succeeded: &["COMPLETE"],
            failed: &["ERROR", "CANCELED"],
            result: Value::clone,
            gone: false,
        },
        ("emr-serverless", "startJobRun") => Follow {
            describe: "getJobRun",
            request: |_, a| json!({"ApplicationId": a["ApplicationId"], "JobRunId": a["JobRunId"]}),
            job: |d| d["JobRun"].clone(),
            status: |j| at(j, &["State"]),
            succeeded: &["SUCCESS"],
            failed: &["FAILED", "CANCELLED"],
            result: Value::clone,
            gone: false,
        },
        ("emr-containers", "startJobRun") => Follow {
            describe: "describeJobRun",
            request: |_, a| json!({"Id": a["Id"], "VirtualClusterId": a["VirtualClusterId"]}),
            job: |d| d["JobRun"].clone(),
            status: |j| at(j, &["State"]),
            succeeded: &["COMPLETED"],
            failed: &["FAILED", "CANCELLED"],
            result: Value::clone,
            gone: false,
        },
        ("elasticmapreduce", "addStep") => Follow {
            describe: "describeStep",
            request: |p, a| json!({"ClusterId": p["ClusterId"], "StepId": a["StepId"]}),
            job: |d| d["Step"].clone(),
            status: |j| at(j, &["Status", "State"]),
            succeeded: &["COMPLETED"],
            failed: &["FAILED", "CANCELLED", "INTERRUPTED"],
            result: Value::clone,
            gone: false,
        },
        // Ready for steps: the cluster WAITING, as Step Functions waits for.
        ("elasticmapreduce", "createCluster") => Follow {
            describe: "describeCluster",
            request: |_, a| json!({"ClusterId": a["ClusterId"]}),
            job: |d| d["Cluster"].clone(),
            status: |j| at(j, &["Status", "State"]),
            succeeded: &["WAITING"],
            failed: &["TERMINATED", "TERMINATED_WITH_ERRORS"],
            result: Value::clone,
            gone: false,
        },
        ("elasticmapreduce", "terminateCluster") => Follow {
            describe: "describeCluster",
            request: |p, _| json!({"ClusterId": p["ClusterId"]}),
            job: |d| d["Cluster"].clone(),
            status: |j| at(j, &["Status", "State"]),
            succeeded: &["TERMINATED", "TERMINATED_WITH_ERRORS"],
            failed: &[],
            result: Value::clone,
            gone: false,
        },
        ("bedrock", "createModelCustomizationJob") => Follow {
            describe: "getModelCustomizationJob",
            request: |_, a| json!({"JobIdentifier": a["JobArn"]}),
            job: Value::clone,
            status: |j| at(j, &["Status"]),
            succeeded: &["Completed"],
            failed: &["Failed", "Stopped"],
            result: Value::clone,
            gone: false,
        },
        ("databrew", "startJobRun") => Follow {
            describe: "describeJobRun",
            request: |p, a| json!({"Name": p["Name"], "RunId": a["RunId"]}),
            job: Value::clone,
            status: |j| at(j, &["State"]),
            succeeded: &["SUCCEEDED"],
            failed: &["FAILED", "STOPPED", "TIMEOUT"],
            result: Value::clone,
            gone: false,
        },
        ("eks", "createCluster") => Follow {
            describe: "describeCluster",
            request: |p, _| json!({"Name": p["Name"]}),
            job: |d| d["Cluster"].clone(),
            status: |j| at(j, &["Status"]),
            succeeded: &["ACTIVE"],
            failed: &["FAILED"],
            result: Value::clone,
            gone: false,
        },
        ("eks", "createNodegroup") => Follow {
            describe: "describeNodegroup",
            request: |p, _| json!({"ClusterName": p["ClusterName"], "NodegroupName": p["NodegroupName"]}),
            job: |d| d["Nodegroup"].clone(),
            status: |j| at(j, &["Status"]),
            succeeded: &["ACTIVE"],
            failed: &["CREATE_FAILED", "DEGRADED"],
            result: Value::clone,
            gone: false,
        },
        ("eks", "deleteCluster") => Follow {
            describe: "describeCluster",
            request: |p, _| json!({"Name": p["Name"]}),
            job: |d| d["Cluster"].clone(),
            status: |j| at(j, &["Status"]),
            succeeded: &[],
            failed: &["FAILED"],
            result: Value::clone,
            gone: true,
        },
        ("eks", "deleteNodegroup") => Follow {
            describe: "describeNodegroup",
            request: |p, _| json!({"ClusterName": p["ClusterName"], "NodegroupName": p["NodegroupName"]}),
            job: |d| d["Nodegroup"].clone(),
            status: |j| at(j, &["Status"]),
            succeeded: &[],
            failed: &["DELETE_FAILED"],
            result: Value::clone,
            gone: true,
        },
        _ => return None,
    })
}

/// What stops a job a `.sync` task gave up on (it timed out, was cancelled,
/// or its execution stopped), as Step Functions stops it: the action and
/// its parameters from the start's parameters and answer.
type Stop = (&'static str, fn(&Value, &Value) -> Value);

fn stop(service: &str, action: &str) -> Option<Stop> {
    Some(match (service, action) {
        ("athena", "startQueryExecution") => (
            "stopQueryExecution",
            |_, a| json!({"QueryExecutionId": a["QueryExecutionId"]}),
        ),
        ("glue", "startJobRun") => (
            "batchStopJobRun",
            |p, a| json!({"JobName": p["JobName"], "JobRunIds": [a["JobRunId"]]}),
        ),
        ("batch", "submitJob") => (
            "terminateJob",
            |_, a| json!({"JobId": a["JobId"], "Reason": "Stopped by Step Functions"}),
        ),
        ("ecs", "runTask") => ("stopTask", |p, a| {
            let mut r =
                json!({"Task": a["Tasks"][0]["TaskArn"], "Reason": "Stopped by Step Functions"});
            if let Some(c) = p.get("Cluster") {
                r["Cluster"] = c.clone();
            }
            r
        }),
        ("codebuild", "startBuild") => ("stopBuild", |_, a| json!({"Id": a["Build"]["Id"]})),
        ("sagemaker", "createTrainingJob") => (
            "stopTrainingJob",
            |p, _| json!({"TrainingJobName": p["TrainingJobName"]}),
        ),
        ("sagemaker", "createTransformJob") => (
            "stopTransformJob",
            |p, _| json!({"TransformJobName": p["TransformJobName"]}),
        ),
        ("sagemaker", "createProcessingJob") => (
            "stopProcessingJob",
            |p, _| json!({"ProcessingJobName": p["ProcessingJobName"]}),
        ),
        ("mediaconvert", "createJob") => ("cancelJob", |_, a| json!({"Id": a["Job"]["Id"]})),
        ("emr-serverless", "startJobRun") => (
            "cancelJobRun",
            |_, a| json!({"ApplicationId": a["ApplicationId"], "JobRunId": a["JobRunId"]}),
        ),
        ("emr-containers", "startJobRun") => (
            "cancelJobRun",
            |_, a| json!({"Id": a["Id"], "VirtualClusterId": a["VirtualClusterId"]}),
        ),
        ("elasticmapreduce", "addStep") => (
            "cancelSteps",
            |p, a| json!({"ClusterId": p["ClusterId"], "StepIds": [a["StepId"]]}),
        ),
        ("elasticmapreduce", "createCluster") => (
            "terminateJobFlows",
            |_, a| json!({"JobFlowIds": [a["ClusterId"]]}),
        ),
        ("bedrock", "createModelCustomizationJob") => (
            "stopModelCustomizationJob",
            |_, a| json!({"JobIdentifier": a["JobArn"]}),
        ),
        ("databrew", "startJobRun") => (
            "stopJobRun",
            |p, a| json!({"Name": p["Name"], "RunId": a["RunId"]}),
        ),
        _ => return None,
    })
}

/// Step Functions' EMR actions are its own, over EMR's API: the action
/// and parameters they call.
fn emr_request(service: &str, action: &str, p: &Value) -> Option<(&'static str, Value)> {
    if service != "elasticmapreduce" {
        return None;
    }
    Some(match action {
        "createCluster" => ("runJobFlow", p.clone()),
        "setClusterTerminationProtection" => (
            "setTerminationProtection",
            json!({"JobFlowIds": [p["ClusterId"]], "TerminationProtected": p["TerminationProtected"]}),
        ),
        "terminateCluster" => ("terminateJobFlows", json!({"JobFlowIds": [p["ClusterId"]]})),
        "addStep" => (
            "addJobFlowSteps",
            json!({"JobFlowId": p["ClusterId"], "Steps": [p["Step"]]}),
        ),
        "cancelStep" => {
            let mut c = json!({"ClusterId": p["ClusterId"], "StepIds": [p["StepId"]]});
            if let Some(o) = p.get("StepCancellationOption") {
                c["StepCancellationOption"] = o.clone();
            }
            ("cancelSteps", c)
        }
        _ => return None,
    })
}

/// `modifyInstanceFleetByName` / `modifyInstanceGroupByName`: the fleet or
/// group named in the parameters, found by listing the cluster's, then
/// modified by its id (ModifyInstanceFleet / ModifyInstanceGroups).
fn emr_by_name(
    clients: &Clients,
    service: &str,
    action: &str,
    p: &Value,
) -> Option<Result<(&'static str, Value), StatesError>> {
    let (list, key, name_field, config, modify) = match (service, action) {
        ("elasticmapreduce", "modifyInstanceFleetByName") => (
            "listInstanceFleets",
            "InstanceFleets",
            "InstanceFleetName",
            "InstanceFleet",
            "modifyInstanceFleet",
        ),
        ("elasticmapreduce", "modifyInstanceGroupByName") => (
            "listInstanceGroups",
            "InstanceGroups",
            "InstanceGroupName",
            "InstanceGroup",
            "modifyInstanceGroups",
        ),
        _ => return None,
    };
    let mut change = p.get(config).cloned().unwrap_or_else(|| json!({}));
    // The name beside ClusterId, or (as AWS's table has it) in the change.
    let name = p
        .get(name_field)
        .or_else(|| change.get(name_field))
        .and_then(Value::as_str)
        .map(str::to_owned);
    let Some(name) = name else {
        return Some(Err(StatesError::custom(
            "States.Runtime",
            format!("elasticmapreduce:{action} needs the parameter '{name_field}'"),
        )));
    };
    let listed = match crate::sdk::call(clients, "emr", list, &json!({"ClusterId": p["ClusterId"]}))
    {
        Ok(v) => v,
        Err(e) => return Some(Err(e)),
    };
    let found = listed[key]
        .as_array()
        .into_iter()
        .flatten()
        .find(|g| g["Name"].as_str() == Some(name.as_str()))
        .and_then(|g| g["Id"].as_str());
    let Some(id) = found else {
        return Some(Err(StatesError::custom(
            "States.TaskFailed",
            format!(
                "The cluster {} has no {config} named '{name}'",
                p["ClusterId"]
            ),
        )));
    };
    if let Some(c) = change.as_object_mut() {
        c.remove(name_field);
        c.insert(format!("{config}Id"), json!(id));
    }
    let request = if config == "InstanceFleet" {
        json!({"ClusterId": p["ClusterId"], "InstanceFleet": change})
    } else {
        json!({"ClusterId": p["ClusterId"], "InstanceGroups": [change]})
    };
    Some(Ok((modify, request)))
}

/// EMR's answer as Step Functions' EMR action gives it.
fn emr_response(service: &str, action: &str, r: Value) -> Value {
    match (service, action) {
        ("elasticmapreduce", "createCluster") => {
            json!({"ClusterId": r["JobFlowId"], "ClusterArn": r["ClusterArn"]})
        }
        ("elasticmapreduce", "addStep") => json!({"StepId": r["StepIds"][0]}),
        ("elasticmapreduce", "cancelStep") => {
            json!({"CancelStepsInfo": r["CancelStepsInfoList"][0]})
        }
        _ => r,
    }
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
        Err(e) => return Progress::Done(Err(e)),
    };
    let job = (f.job)(&described);
    match (f.status)(&job) {
        Some(s) if f.succeeded.contains(&s.as_str()) => Progress::Done(Ok((f.result)(&described))),
        Some(s) if f.failed.contains(&s.as_str()) => Progress::Done(Err(StatesError::custom(
            "States.TaskFailed",
            job.to_string(),
        ))),
        _ => Progress::Running,
    }
}

/// The call and, for a `.sync` job, its following to the end in place
/// (blocking), until its task gives up on it (`abandoned`, its
/// `TimeoutSeconds`): then the job is stopped.
pub fn call(
    clients: &Clients,
    resource: &str,
    parameters: &Value,
    timeout_seconds: Option<u64>,
    abandoned: &Abandoned,
) -> Option<TaskResult> {
    let started = match start(clients, resource, parameters)? {
        Ok(started) => started,
        Err(e) => return Some(Err(e)),
    };
    if !follows(resource) {
        return Some(Ok(started));
    }
    Some(follow_blocking(
        |stop| look(clients, resource, parameters, &started, stop),
        timeout_seconds,
        abandoned,
    ))
}
