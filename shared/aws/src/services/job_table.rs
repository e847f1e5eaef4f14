//! How a `.sync` task follows the job it started, and how it stops one it
//! gave up on, service by service: the describe action, where the job's
//! status is and which statuses end it, and the stop action.

use serde_json::{Value, json};

/// How a `.sync` task follows the job it started.
pub(super) struct Follow {
    /// The describe action.
    pub describe: &'static str,
    /// Its parameters, from the start's parameters and answer.
    pub request: fn(&Value, &Value) -> Value,
    /// The job's description within the describe answer.
    pub job: fn(&Value) -> Value,
    /// Its status within the job.
    pub status: fn(&Value) -> Option<String>,
    pub succeeded: &'static [&'static str],
    pub failed: &'static [&'static str],
    /// The task's result from the describe answer.
    pub result: fn(&Value) -> Value,
    /// A deletion: the job is done once the describe action no longer
    /// finds it (`…ResourceNotFoundException`).
    pub gone: bool,
    /// The task's result is the start's answer, not the description
    /// (an application or cluster brought to a state).
    pub keeps_answer: bool,
}

pub(super) fn follow(service: &str, action: &str) -> Option<Follow> {
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
            keeps_answer: false,
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
            keeps_answer: false,
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
            keeps_answer: false,
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
            keeps_answer: false,
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
            keeps_answer: false,
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
            keeps_answer: false,
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
            keeps_answer: false,
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
            keeps_answer: false,
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
            keeps_answer: false,
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
            keeps_answer: false,
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
            keeps_answer: false,
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
            keeps_answer: false,
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
            keeps_answer: false,
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
            keeps_answer: false,
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
            keeps_answer: false,
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
            keeps_answer: false,
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
            keeps_answer: false,
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
            keeps_answer: false,
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
            keeps_answer: false,
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
            keeps_answer: false,
        },
        ("codebuild", "startBuildBatch" | "retryBuildBatch") => Follow {
            describe: "batchGetBuildBatches",
            request: |_, a| json!({"Ids": [a["BuildBatch"]["Id"]]}),
            job: |d| d["BuildBatches"][0].clone(),
            status: |j| at(j, &["BuildBatchStatus"]),
            succeeded: &["SUCCEEDED"],
            failed: &["FAILED", "FAULT", "STOPPED", "TIMED_OUT"],
            result: |d| json!({"BuildBatch": d["BuildBatches"][0]}),
            gone: false,
            keeps_answer: false,
        },
        ("sagemaker", "createHyperParameterTuningJob") => Follow {
            describe: "describeHyperParameterTuningJob",
            request: |p, _| json!({"HyperParameterTuningJobName": p["HyperParameterTuningJobName"]}),
            job: Value::clone,
            status: |j| at(j, &["HyperParameterTuningJobStatus"]),
            succeeded: &["Completed"],
            failed: &["Failed", "Stopped"],
            result: Value::clone,
            gone: false,
            keeps_answer: false,
        },
        ("sagemaker", "createLabelingJob") => Follow {
            describe: "describeLabelingJob",
            request: |p, _| json!({"LabelingJobName": p["LabelingJobName"]}),
            job: Value::clone,
            status: |j| at(j, &["LabelingJobStatus"]),
            succeeded: &["Completed"],
            failed: &["Failed", "Stopped"],
            result: Value::clone,
            gone: false,
            keeps_answer: false,
        },
        (
            "emr-serverless",
            "createApplication" | "startApplication" | "stopApplication" | "deleteApplication",
        ) => {
            let (succeeded, gone): (&'static [&'static str], bool) = match action {
                // Created, or already started (its automatic start).
                "createApplication" => (&["CREATED", "STARTED"], false),
                "startApplication" => (&["STARTED"], false),
                "stopApplication" => (&["STOPPED"], false),
                _ => (&["TERMINATED"], true),
            };
            Follow {
                describe: "getApplication",
                request: |p, a| {
                    let id = a.get("ApplicationId").unwrap_or(&p["ApplicationId"]);
                    json!({"ApplicationId": id})
                },
                job: |d| d["Application"].clone(),
                status: |j| at(j, &["State"]),
                succeeded,
                failed: if action == "deleteApplication" {
                    &[]
                } else {
                    &["TERMINATED"]
                },
                result: Value::clone,
                gone,
                keeps_answer: true,
            }
        }
        ("emr-serverless", "cancelJobRun") => Follow {
            describe: "getJobRun",
            request: |p, _| json!({"ApplicationId": p["ApplicationId"], "JobRunId": p["JobRunId"]}),
            job: |d| d["JobRun"].clone(),
            status: |j| at(j, &["State"]),
            succeeded: &["CANCELLED"],
            failed: &["SUCCESS", "FAILED"],
            result: Value::clone,
            gone: false,
            keeps_answer: false,
        },
        ("emr-containers", "createVirtualCluster" | "deleteVirtualCluster") => Follow {
            describe: "describeVirtualCluster",
            request: |p, a| json!({"Id": a.get("Id").unwrap_or(&p["Id"])}),
            job: |d| d["VirtualCluster"].clone(),
            status: |j| at(j, &["State"]),
            succeeded: if action == "createVirtualCluster" {
                &["RUNNING"]
            } else {
                &["TERMINATED"]
            },
            failed: if action == "createVirtualCluster" {
                &["TERMINATED", "ARRESTED"]
            } else {
                &[]
            },
            result: Value::clone,
            gone: false,
            keeps_answer: true,
        },
        ("eks", "createFargateProfile" | "deleteFargateProfile") => Follow {
            describe: "describeFargateProfile",
            request: |p, _| json!({"ClusterName": p["ClusterName"], "FargateProfileName": p["FargateProfileName"]}),
            job: |d| d["FargateProfile"].clone(),
            status: |j| at(j, &["Status"]),
            succeeded: if action == "createFargateProfile" {
                &["ACTIVE"]
            } else {
                &[]
            },
            failed: if action == "createFargateProfile" {
                &["CREATE_FAILED"]
            } else {
                &["DELETE_FAILED"]
            },
            result: Value::clone,
            gone: action == "deleteFargateProfile",
            keeps_answer: false,
        },
        _ => return None,
    })
}

/// What stops a job a `.sync` task gave up on (it timed out, was cancelled,
/// or its execution stopped), as Step Functions stops it: the action and
/// its parameters from the start's parameters and answer.
pub(super) type Stop = (&'static str, fn(&Value, &Value) -> Value);

pub(super) fn stop(service: &str, action: &str) -> Option<Stop> {
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
        ("codebuild", "startBuildBatch" | "retryBuildBatch") => (
            "stopBuildBatch",
            |_, a| json!({"Id": a["BuildBatch"]["Id"]}),
        ),
        ("sagemaker", "createHyperParameterTuningJob") => (
            "stopHyperParameterTuningJob",
            |p, _| json!({"HyperParameterTuningJobName": p["HyperParameterTuningJobName"]}),
        ),
        ("sagemaker", "createLabelingJob") => (
            "stopLabelingJob",
            |p, _| json!({"LabelingJobName": p["LabelingJobName"]}),
        ),
        _ => return None,
    })
}
