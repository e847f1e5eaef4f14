//! AWS's optimized service integrations: the `<service>:<action>` pairs a
//! Task `Resource` may name after `arn:aws:states:::`, and the patterns each
//! service allows. From AWS's "Integrating optimized services with Step
//! Functions" table and its per-service pages; a pattern is allowed for a
//! whole service (AWS lists some per action, but accepting a few extra
//! pairs is kinder than refusing a definition AWS runs).
//! `aws-sdk:<service>:<action>` is not here: AWS accepts any such pair.

use super::resource::Pattern::{self, *};

struct Integration {
    service: &'static str,
    actions: &'static [&'static str],
    patterns: &'static [Pattern],
}

const fn service(
    service: &'static str,
    actions: &'static [&'static str],
    patterns: &'static [Pattern],
) -> Integration {
    Integration {
        service,
        actions,
        patterns,
    }
}

const RUN_JOB: &[Pattern] = &[RequestResponse, Sync];
const CALLBACK: &[Pattern] = &[RequestResponse, WaitForTaskToken];
const ALL: &[Pattern] = &[RequestResponse, Sync, WaitForTaskToken];

const OPTIMIZED: &[Integration] = &[
    service("apigateway", &["invoke"], CALLBACK),
    service(
        "athena",
        &[
            "startQueryExecution",
            "stopQueryExecution",
            "getQueryExecution",
            "getQueryResults",
        ],
        RUN_JOB,
    ),
    service("batch", &["submitJob"], ALL),
    service(
        "bedrock",
        &["invokeModel", "createModelCustomizationJob"],
        ALL,
    ),
    // Request-response alone (the guide's AgentCore harness page).
    service("bedrockagentcore", &["invokeHarness"], &[RequestResponse]),
    service(
        "codebuild",
        &[
            "startBuild",
            "stopBuild",
            "batchDeleteBuilds",
            "batchGetReports",
            "startBuildBatch",
            "stopBuildBatch",
            "retryBuildBatch",
            "deleteBuildBatch",
        ],
        RUN_JOB,
    ),
    service("databrew", &["startJobRun"], RUN_JOB),
    service(
        "dynamodb",
        &["getItem", "putItem", "updateItem", "deleteItem"],
        &[RequestResponse],
    ),
    service("ecs", &["runTask"], ALL),
    service(
        "eks",
        &[
            "createCluster",
            "deleteCluster",
            "createFargateProfile",
            "deleteFargateProfile",
            "createNodegroup",
            "deleteNodegroup",
            "runJob",
            "call",
        ],
        ALL,
    ),
    service(
        "elasticmapreduce",
        &[
            "createCluster",
            "setClusterTerminationProtection",
            "terminateCluster",
            "addStep",
            "cancelStep",
            "modifyInstanceFleetByName",
            "modifyInstanceGroupByName",
        ],
        RUN_JOB,
    ),
    // Accepted before AWS's own name (`elasticmapreduce`) was listed; kept
    // so that definitions validated earlier still do.
    service(
        "emr",
        &["addStep", "createCluster", "terminateCluster"],
        RUN_JOB,
    ),
    service(
        "emr-containers",
        &[
            "createVirtualCluster",
            "deleteVirtualCluster",
            "startJobRun",
        ],
        RUN_JOB,
    ),
    service(
        "emr-serverless",
        &[
            "createApplication",
            "startApplication",
            "stopApplication",
            "deleteApplication",
            "startJobRun",
            "cancelJobRun",
        ],
        RUN_JOB,
    ),
    service("events", &["putEvents"], CALLBACK),
    service("glue", &["startJobRun"], ALL),
    service("http", &["invoke"], &[RequestResponse]),
    service("lambda", &["invoke"], CALLBACK),
    service("mediaconvert", &["createJob"], RUN_JOB),
    service(
        "sagemaker",
        &[
            "createEndpoint",
            "createEndpointConfig",
            "createHyperParameterTuningJob",
            "createLabelingJob",
            "createModel",
            "createProcessingJob",
            "createTrainingJob",
            "createTransformJob",
            "updateEndpoint",
        ],
        RUN_JOB,
    ),
    service("sns", &["publish"], CALLBACK),
    service("sqs", &["sendMessage"], CALLBACK),
    service(
        "states",
        &["startExecution"],
        &[RequestResponse, Sync, Sync2, WaitForTaskToken],
    ),
];

/// Whether AWS offers `service:action` as an optimized integration with
/// this pattern.
pub(super) fn optimized(service: &str, action: &str, pattern: Pattern) -> bool {
    OPTIMIZED.iter().any(|i| {
        i.service == service && i.actions.contains(&action) && i.patterns.contains(&pattern)
    })
}
