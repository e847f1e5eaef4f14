//! Task `Resource` ARNs: what they name and whether AWS recognises them.

/// How a service integration waits for its work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Pattern {
    RequestResponse,
    /// `.sync`
    Sync,
    /// `.sync:2`
    Sync2,
    /// `.waitForTaskToken`
    WaitForTaskToken,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Resource {
    /// `arn:aws:lambda:<region>:<account>:function:<name>[:<qualifier>]`
    LambdaFunction { arn: String },
    /// `arn:aws:states:<region>:<account>:activity:<name>`
    Activity { arn: String },
    /// `arn:aws:states:::<service>:<action>[.sync|.sync:2|.waitForTaskToken]`
    Service {
        arn: String,
        service: String,
        action: String,
        pattern: Pattern,
    },
}

/// Optimized integrations and the patterns each supports.
const INTEGRATIONS: &[(&str, &[&str], &[Pattern])] = {
    use Pattern::*;
    &[
        ("lambda", &["invoke"], &[RequestResponse, WaitForTaskToken]),
        (
            "sqs",
            &["sendMessage"],
            &[RequestResponse, WaitForTaskToken],
        ),
        ("sns", &["publish"], &[RequestResponse, WaitForTaskToken]),
        (
            "dynamodb",
            &["getItem", "putItem", "updateItem", "deleteItem"],
            &[RequestResponse],
        ),
        (
            "states",
            &["startExecution"],
            &[RequestResponse, Sync, Sync2, WaitForTaskToken],
        ),
        (
            "events",
            &["putEvents"],
            &[RequestResponse, WaitForTaskToken],
        ),
        ("http", &["invoke"], &[RequestResponse]),
        (
            "ecs",
            &["runTask"],
            &[RequestResponse, Sync, WaitForTaskToken],
        ),
        (
            "batch",
            &["submitJob"],
            &[RequestResponse, Sync, WaitForTaskToken],
        ),
        (
            "glue",
            &["startJobRun"],
            &[RequestResponse, Sync, WaitForTaskToken],
        ),
        (
            "apigateway",
            &["invoke"],
            &[RequestResponse, WaitForTaskToken],
        ),
        (
            "codebuild",
            &[
                "startBuild",
                "stopBuild",
                "batchDeleteBuilds",
                "batchGetReports",
            ],
            &[RequestResponse, Sync],
        ),
        (
            "athena",
            &[
                "startQueryExecution",
                "stopQueryExecution",
                "getQueryExecution",
                "getQueryResults",
            ],
            &[RequestResponse, Sync],
        ),
        (
            "bedrock",
            &["invokeModel", "createModelCustomizationJob"],
            &[RequestResponse, Sync, WaitForTaskToken],
        ),
        (
            "eks",
            &["runJob", "call", "createCluster", "deleteCluster"],
            &[RequestResponse, Sync],
        ),
        (
            "sagemaker",
            &[
                "createTrainingJob",
                "createTransformJob",
                "createProcessingJob",
                "createEndpoint",
            ],
            &[RequestResponse, Sync],
        ),
        (
            "emr",
            &["addStep", "createCluster", "terminateCluster"],
            &[RequestResponse, Sync],
        ),
        ("mediaconvert", &["createJob"], &[RequestResponse, Sync]),
        (
            "elasticmapreduce",
            &["addStep", "createCluster", "terminateCluster"],
            &[RequestResponse, Sync],
        ),
    ]
};

impl Resource {
    /// Reads a resource ARN; the error is AWS's sentence.
    pub fn parse(arn: &str) -> Result<Resource, String> {
        let not_recognized = || {
            format!(
                "The resource provided {arn} is not recognized. The value is not a valid resource ARN, or the resource is not available in this region."
            )
        };
        let parts: Vec<&str> = arn.splitn(6, ':').collect();
        if parts.len() < 6 || parts[0] != "arn" || parts[1].is_empty() {
            return Err(not_recognized());
        }
        match (parts[2], parts[3], parts[4]) {
            ("lambda", region, account) if !region.is_empty() && !account.is_empty() => {
                let rest = parts[5];
                match rest.strip_prefix("function:") {
                    Some(name) if !name.is_empty() => Ok(Resource::LambdaFunction {
                        arn: arn.to_owned(),
                    }),
                    _ => Err(not_recognized()),
                }
            }
            ("states", "", "") => {
                let rest = parts[5];
                let (service, action) = match rest.strip_prefix("aws-sdk:") {
                    Some(sdk) => {
                        let (svc, action) = sdk.split_once(':').ok_or_else(not_recognized)?;
                        (&rest[..8 + svc.len()], action)
                    }
                    None => rest.split_once(':').ok_or_else(not_recognized)?,
                };
                let (action, pattern) = if let Some(a) = action.strip_suffix(".sync:2") {
                    (a, Pattern::Sync2)
                } else if let Some(a) = action.strip_suffix(".sync") {
                    (a, Pattern::Sync)
                } else if let Some(a) = action.strip_suffix(".waitForTaskToken") {
                    (a, Pattern::WaitForTaskToken)
                } else {
                    (action, Pattern::RequestResponse)
                };
                let known = if let Some(sdk) = service.strip_prefix("aws-sdk:") {
                    !sdk.is_empty() && !action.is_empty()
                } else {
                    INTEGRATIONS.iter().any(|(s, actions, patterns)| {
                        *s == service && actions.contains(&action) && patterns.contains(&pattern)
                    })
                };
                if !known {
                    return Err(not_recognized());
                }
                Ok(Resource::Service {
                    arn: arn.to_owned(),
                    service: service.to_owned(),
                    action: action.to_owned(),
                    pattern,
                })
            }
            ("states", region, account) if !region.is_empty() && !account.is_empty() => {
                if parts[5].starts_with("activity:") {
                    Ok(Resource::Activity {
                        arn: arn.to_owned(),
                    })
                } else {
                    Err(not_recognized())
                }
            }
            _ => Err(not_recognized()),
        }
    }

    pub fn arn(&self) -> &str {
        match self {
            Resource::LambdaFunction { arn }
            | Resource::Activity { arn }
            | Resource::Service { arn, .. } => arn,
        }
    }

    pub fn pattern(&self) -> Pattern {
        match self {
            Resource::Service { pattern, .. } => *pattern,
            _ => Pattern::RequestResponse,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_integrations_and_patterns() {
        let r = Resource::parse("arn:aws:states:::sqs:sendMessage.waitForTaskToken").unwrap();
        assert_eq!(r.pattern(), Pattern::WaitForTaskToken);
        assert!(Resource::parse("arn:aws:states:::states:startExecution.sync:2").is_ok());
        assert!(Resource::parse("arn:aws:states:::aws-sdk:s3:getObject").is_ok());
        assert!(Resource::parse("arn:aws:lambda:us-east-1:111111111111:function:f").is_ok());
        assert!(Resource::parse("arn:aws:states:us-east-1:111111111111:activity:a").is_ok());
    }

    #[test]
    fn rejects_what_aws_does_not_know() {
        for bad in [
            "arn:aws:states:::dynamodb:query",
            "arn:aws:states:::dynamodb:getItem.sync",
            "nope",
            "arn:aws:lambda:::function:",
        ] {
            assert!(Resource::parse(bad).is_err(), "{bad}");
        }
    }
}
