//! Step Functions' own EMR actions over EMR's API: `createCluster` is
//! RunJobFlow, `addStep` AddJobFlowSteps with one step, the `…ByName`
//! actions find the fleet or group by its name first.

use serde_json::{Value, json};
use stepwise_asl::StatesError;

use crate::Clients;

/// Step Functions' EMR actions are its own, over EMR's API: the action
/// and parameters they call.
pub(super) fn emr_request(service: &str, action: &str, p: &Value) -> Option<(&'static str, Value)> {
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
pub(super) fn emr_by_name(
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
pub(super) fn emr_response(service: &str, action: &str, r: Value) -> Value {
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
