//! Every action's members with their JSON types and length limits, as the
//! Step Functions API model gives them, checked once for every request
//! before any backend sees it: a member of the wrong type is a
//! `SerializationException`, one too long a `ValidationException`, as AWS
//! answers. (Which members are required, and what their values may be, the
//! actions check themselves.)

use serde_json::Value;

use crate::ApiError;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Str,
    Bool,
    Int,
    Num,
    List,
    Object,
}

use Kind::{Bool, Int, List, Num, Object, Str};

/// `(member, type, longest length)`; 0: no length limit of its own.
type Member = (&'static str, Kind, usize);

const ARN: usize = 2048;
const TOKEN: usize = 1024;
/// Names of machines, executions, activities and aliases (what characters
/// they may hold the actions check, as `InvalidName`).
const NAME: usize = 80;

fn members(action: &str) -> &'static [Member] {
    match action {
        "CreateStateMachine" => &[
            ("name", Str, NAME),
            ("definition", Str, 1_048_576),
            ("roleArn", Str, 256),
            ("type", Str, 0),
            ("loggingConfiguration", Object, 0),
            ("tags", List, 0),
            ("tracingConfiguration", Object, 0),
            ("publish", Bool, 0),
            ("versionDescription", Str, 256),
            ("encryptionConfiguration", Object, 0),
        ],
        "UpdateStateMachine" => &[
            ("stateMachineArn", Str, ARN),
            ("definition", Str, 1_048_576),
            ("roleArn", Str, 256),
            ("loggingConfiguration", Object, 0),
            ("tracingConfiguration", Object, 0),
            ("publish", Bool, 0),
            ("versionDescription", Str, 256),
            ("encryptionConfiguration", Object, 0),
        ],
        "DescribeStateMachine" | "DeleteStateMachine" => {
            &[("stateMachineArn", Str, ARN), ("includedData", Str, 0)]
        }
        "ListStateMachines" | "ListActivities" => {
            &[("maxResults", Int, 0), ("nextToken", Str, TOKEN)]
        }
        "ValidateStateMachineDefinition" => &[
            ("definition", Str, 1_048_576),
            ("type", Str, 0),
            ("severity", Str, 0),
            ("maxResults", Int, 0),
        ],
        "PublishStateMachineVersion" => &[
            ("stateMachineArn", Str, ARN),
            ("revisionId", Str, 0),
            ("description", Str, 256),
        ],
        "ListStateMachineVersions" | "ListStateMachineAliases" => &[
            ("stateMachineArn", Str, ARN),
            ("nextToken", Str, TOKEN),
            ("maxResults", Int, 0),
        ],
        "DeleteStateMachineVersion" => &[("stateMachineVersionArn", Str, ARN)],
        "CreateStateMachineAlias" => &[
            ("description", Str, 256),
            ("name", Str, NAME),
            ("routingConfiguration", List, 0),
        ],
        "UpdateStateMachineAlias" => &[
            ("stateMachineAliasArn", Str, ARN),
            ("description", Str, 256),
            ("routingConfiguration", List, 0),
        ],
        "DescribeStateMachineAlias" | "DeleteStateMachineAlias" => {
            &[("stateMachineAliasArn", Str, ARN)]
        }
        "StartExecution" | "StartSyncExecution" => &[
            ("stateMachineArn", Str, ARN),
            ("name", Str, NAME),
            ("input", Str, 0),
            ("traceHeader", Str, 256),
            ("includedData", Str, 0),
        ],
        "DescribeExecution" | "DescribeStateMachineForExecution" => {
            &[("executionArn", Str, ARN), ("includedData", Str, 0)]
        }
        "ListExecutions" => &[
            ("stateMachineArn", Str, ARN),
            ("statusFilter", Str, 0),
            ("maxResults", Int, 0),
            ("nextToken", Str, 3096),
            ("mapRunArn", Str, ARN),
            ("redriveFilter", Str, 0),
        ],
        "GetExecutionHistory" => &[
            ("executionArn", Str, ARN),
            ("maxResults", Int, 0),
            ("reverseOrder", Bool, 0),
            ("nextToken", Str, TOKEN),
            ("includeExecutionData", Bool, 0),
        ],
        "StopExecution" => &[
            ("executionArn", Str, ARN),
            ("error", Str, 256),
            ("cause", Str, 32_768),
        ],
        "RedriveExecution" => &[("executionArn", Str, ARN), ("clientToken", Str, 64)],
        "SendTaskSuccess" => &[("taskToken", Str, 2048), ("output", Str, 262_144)],
        "SendTaskFailure" => &[
            ("taskToken", Str, 2048),
            ("error", Str, 256),
            ("cause", Str, 32_768),
        ],
        "SendTaskHeartbeat" => &[("taskToken", Str, 2048)],
        "CreateActivity" => &[
            ("name", Str, NAME),
            ("tags", List, 0),
            ("encryptionConfiguration", Object, 0),
        ],
        "DescribeActivity" | "DeleteActivity" => &[("activityArn", Str, ARN)],
        "GetActivityTask" => &[("activityArn", Str, ARN), ("workerName", Str, 80)],
        "TagResource" => &[("resourceArn", Str, ARN), ("tags", List, 0)],
        "UntagResource" => &[("resourceArn", Str, ARN), ("tagKeys", List, 0)],
        "ListTagsForResource" => &[("resourceArn", Str, ARN)],
        "TestState" => &[
            ("definition", Str, 1_048_576),
            ("roleArn", Str, 256),
            ("input", Str, 0),
            ("inspectionLevel", Str, 0),
            ("revealSecrets", Bool, 0),
            ("variables", Str, 0),
            ("stateName", Str, 80),
            ("mock", Object, 0),
            ("context", Str, 0),
            ("stateConfiguration", Object, 0),
        ],
        "ListMapRuns" => &[
            ("executionArn", Str, ARN),
            ("maxResults", Int, 0),
            ("nextToken", Str, TOKEN),
        ],
        "DescribeMapRun" => &[("mapRunArn", Str, ARN)],
        "UpdateMapRun" => &[
            ("mapRunArn", Str, ARN),
            ("maxConcurrency", Int, 0),
            ("toleratedFailurePercentage", Num, 0),
            ("toleratedFailureCount", Int, 0),
        ],
        _ => &[],
    }
}

fn type_name(k: Kind) -> &'static str {
    match k {
        Str => "a string",
        Bool => "a boolean",
        Int => "an integer",
        Num => "a number",
        List => "a list",
        Object => "a structure",
    }
}

fn fits(v: &Value, k: Kind) -> bool {
    match k {
        Str => v.is_string(),
        Bool => v.is_boolean(),
        Int => v.is_i64() || v.is_u64(),
        Num => v.is_number(),
        List => v.is_array(),
        Object => v.is_object(),
    }
}

/// The string members AWS's model marks sensitive: its messages leave their
/// values out.
const SENSITIVE: &[&str] = &[
    "cause",
    "context",
    "definition",
    "description",
    "error",
    "input",
    "output",
    "stateName",
    "taskToken",
    "variables",
    "versionDescription",
];

/// Checks `body`'s members for `action`: their types, then their lengths.
pub fn check(action: &str, body: &Value) -> Result<(), ApiError> {
    for (name, kind, longest) in members(action) {
        let Some(v) = body.get(*name).filter(|v| !v.is_null()) else {
            continue;
        };
        if !fits(v, *kind) {
            return Err(ApiError::serialization(format!(
                "The member '{name}' must be {}",
                type_name(*kind)
            )));
        }
        if *longest > 0
            && let Some(s) = v.as_str()
            && s.chars().count() > *longest
        {
            // AWS quotes the value unless the member is sensitive.
            let value = if SENSITIVE.contains(name) {
                String::new()
            } else {
                format!(" '{s}'")
            };
            return Err(ApiError::validation(format!(
                "1 validation error detected: Value{value} at '{name}' failed to satisfy constraint: Member must have length less than or equal to {longest}"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn wrong_types_are_serialization_errors() {
        for (action, body) in [
            (
                "CreateStateMachine",
                json!({"name": "m", "tags": {"k": "v"}}),
            ),
            ("CreateStateMachine", json!({"name": "m", "publish": "yes"})),
            (
                "StartExecution",
                json!({"stateMachineArn": "a", "traceHeader": 7}),
            ),
            (
                "GetExecutionHistory",
                json!({"executionArn": "a", "reverseOrder": "true"}),
            ),
            (
                "ListExecutions",
                json!({"stateMachineArn": "a", "maxResults": 1.5}),
            ),
            ("UntagResource", json!({"resourceArn": "a", "tagKeys": "k"})),
        ] {
            assert_eq!(
                check(action, &body).unwrap_err().code,
                "SerializationException",
                "{action} {body}"
            );
        }
    }

    #[test]
    fn overlong_members_are_validation_errors() {
        let long = "d".repeat(257);
        let err = check(
            "CreateStateMachine",
            &json!({"publish": true, "versionDescription": long}),
        )
        .unwrap_err();
        assert_eq!(err.code, "ValidationException");
        let huge = "x".repeat(1_048_577);
        assert_eq!(
            check("CreateStateMachine", &json!({"definition": huge}))
                .unwrap_err()
                .code,
            "ValidationException"
        );
        assert!(check("CreateStateMachine", &json!({"name": "m", "publish": true})).is_ok());
        // AWS quotes a value unless the model marks its member sensitive.
        assert!(
            err.message
                .starts_with("1 validation error detected: Value at 'versionDescription'")
        );
        let token = "t".repeat(3097);
        let err = check("ListExecutions", &json!({"nextToken": token})).unwrap_err();
        assert!(err.message.starts_with(&format!(
            "1 validation error detected: Value '{token}' at 'nextToken'"
        )));
    }
}
