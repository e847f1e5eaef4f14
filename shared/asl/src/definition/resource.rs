//! Task `Resource` ARNs: what they name and whether AWS recognises them.
//!
//! AWS accepts a service integration in any partition and with or without a
//! region and account (`arn:aws-cn:states:cn-north-1:123456789012:sqs:sendMessage`);
//! [`canonical`] gives the one spelling the integrations match on.

use std::borrow::Cow;

use super::integrations;

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
    /// `arn:<partition>:states:<region>:<account>:<service>:<action>[.sync|.sync:2|.waitForTaskToken]`,
    /// region and account usually empty; `service` is `aws-sdk:<name>` for
    /// an SDK integration.
    Service {
        arn: String,
        service: String,
        action: String,
        pattern: Pattern,
    },
}

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
            ("states", region, account)
                if parts[5].starts_with("activity:")
                    && !region.is_empty()
                    && !account.is_empty() =>
            {
                Ok(Resource::Activity {
                    arn: arn.to_owned(),
                })
            }
            ("states", _, _) => {
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
                    integrations::optimized(service, action, pattern)
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

    /// The ARN as the integrations match it: see [`canonical`].
    pub fn canonical_arn(&self) -> Cow<'_, str> {
        canonical(self.arn())
    }

    pub fn pattern(&self) -> Pattern {
        match self {
            Resource::Service { pattern, .. } => *pattern,
            _ => Pattern::RequestResponse,
        }
    }

    /// Whether HeartbeatSeconds applies: heartbeats come with a task token
    /// (an activity, a callback) or from a job run (`.sync`); a
    /// request-response call has no way to send one, and AWS keeps no
    /// heartbeat clock for it.
    pub fn takes_heartbeats(&self) -> bool {
        matches!(self, Resource::Activity { .. }) || self.pattern() != Pattern::RequestResponse
    }
}

/// A service integration ARN spelled as `arn:aws:states:::<service>:<action>[.pattern]`,
/// whatever its partition, region and account; Lambda function and activity
/// ARNs (which name a real resource) and anything else come back unchanged.
pub fn canonical(arn: &str) -> Cow<'_, str> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    match parts[..] {
        ["arn", "aws", "states", "", "", _] => Cow::Borrowed(arn),
        ["arn", partition, "states", _, _, rest]
            if !partition.is_empty() && rest.contains(':') && !rest.starts_with("activity:") =>
        {
            Cow::Owned(format!("arn:aws:states:::{rest}"))
        }
        _ => Cow::Borrowed(arn),
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
    fn service_integrations_may_name_a_partition_region_and_account() {
        for (arn, canonical) in [
            (
                "arn:aws:states:us-east-1:123456789012:aws-sdk:s3:getObject",
                "arn:aws:states:::aws-sdk:s3:getObject",
            ),
            (
                "arn:aws:states:eu-west-1:123456789012:lambda:invoke",
                "arn:aws:states:::lambda:invoke",
            ),
            (
                "arn:aws-cn:states:::sqs:sendMessage.waitForTaskToken",
                "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
            ),
            (
                "arn:aws-us-gov:states:us-gov-west-1::states:startExecution.sync:2",
                "arn:aws:states:::states:startExecution.sync:2",
            ),
        ] {
            let r = Resource::parse(arn).unwrap_or_else(|e| panic!("{arn}: {e}"));
            assert_eq!(r.arn(), arn);
            assert_eq!(r.canonical_arn(), canonical, "{arn}");
        }
        let Resource::Service {
            service, action, ..
        } = Resource::parse("arn:aws:states:us-east-1:123456789012:aws-sdk:s3:getObject").unwrap()
        else {
            panic!("not a service integration")
        };
        assert_eq!(
            (service.as_str(), action.as_str()),
            ("aws-sdk:s3", "getObject")
        );
    }

    #[test]
    fn real_resources_keep_their_arn() {
        for arn in [
            "arn:aws:states:::lambda:invoke",
            "arn:aws-cn:lambda:cn-north-1:123456789012:function:f",
            "arn:aws:states:us-east-1:123456789012:activity:a",
        ] {
            assert_eq!(Resource::parse(arn).unwrap().canonical_arn(), arn);
        }
    }

    #[test]
    fn every_optimized_integration_aws_lists_is_known() {
        for arn in [
            "arn:aws:states:::sagemaker:createModel",
            "arn:aws:states:::sagemaker:createEndpointConfig",
            "arn:aws:states:::sagemaker:createHyperParameterTuningJob.sync",
            "arn:aws:states:::sagemaker:updateEndpoint",
            "arn:aws:states:::elasticmapreduce:addStep.sync",
            "arn:aws:states:::elasticmapreduce:modifyInstanceFleetByName",
            "arn:aws:states:::emr-containers:startJobRun.sync",
            "arn:aws:states:::emr-serverless:createApplication.sync",
            "arn:aws:states:::eks:createNodegroup.sync",
            "arn:aws:states:::codebuild:startBuildBatch.sync",
            "arn:aws:states:::databrew:startJobRun.sync",
            "arn:aws:states:::bedrock:createModelCustomizationJob.sync",
            "arn:aws:states:::mediaconvert:createJob.sync",
            "arn:aws:states:::http:invoke",
            "arn:aws:states:::aws-sdk:scheduler:createSchedule",
        ] {
            assert!(Resource::parse(arn).is_ok(), "{arn}");
        }
    }

    #[test]
    fn rejects_what_aws_does_not_know() {
        for bad in [
            "arn:aws:states:::dynamodb:query",
            "arn:aws:states:::dynamodb:getItem.sync",
            "nope",
            "arn:aws:lambda:::function:",
            "arn:aws:states:us-east-1:123456789012:dynamodb:query",
            "arn:aws:states:::sagemaker:createModel.waitForTaskToken",
            "arn:aws:states:::http:invoke.sync",
            "arn:aws:states:::activity:a",
        ] {
            assert!(Resource::parse(bad).is_err(), "{bad}");
        }
    }
}
