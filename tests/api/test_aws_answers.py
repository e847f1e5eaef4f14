"""AWS's answers where other projects' suites recorded them on AWS and the
recorded conversations replayed by test_api_conformance do not reach:
the order of a listing, a Map's Label, text that is not JSON, an alias
that exists already, an EXPRESS execution's ARN, a timed-out execution,
a missed heartbeat."""
import json
import time

import boto3
import pytest
from botocore.config import Config

from conftest import ROLE, wait_for

PASS = json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})


def refused(call, exception, **kw):
    with pytest.raises(exception) as e:
        call(**kw)
    return e.value.response["Error"]["Message"]


def test_state_machines_are_listed_by_name(sfn):
    """AWS lists by name ('sm_10' before 'sm_2'); we listed by creation."""
    for i in (2, 10, 1, 11):
        sfn.create_state_machine(name=f"byname_{i}", definition=PASS, roleArn=ROLE)
    names = [m["name"] for page in sfn.get_paginator("list_state_machines").paginate(PaginationConfig={"PageSize": 3})
             for m in page["stateMachines"] if m["name"].startswith("byname_")]
    assert names == ["byname_1", "byname_10", "byname_11", "byname_2"]


@pytest.mark.parametrize("label", ["label_ ", "label_?", "label_*", "label_:", "label_{", "label_\"", "label_\u0001",
                                   "", "x" * 41])
def test_a_map_label_aws_would_refuse_is_an_invalid_definition(sfn, label):
    """A Label goes into the Map Run's ARN: AWS allows 1 to 40 characters,
    none of them whitespace, wildcards, brackets, special or control
    characters. We accepted any."""
    def machine(label):
        return json.dumps({"StartAt": "M", "States": {"M": {"Type": "Map", "Label": label, "End": True, "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
            "StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}}}})
    message = refused(sfn.create_state_machine, sfn.exceptions.InvalidDefinition,
                      name="labelled", definition=machine(label), roleArn=ROLE)
    assert "'Label'" in message and "/States/M/Label" in message, message
    arn = sfn.create_state_machine(name="labelled", definition=machine("x" * 40), roleArn=ROLE)["stateMachineArn"]
    sfn.delete_state_machine(stateMachineArn=arn)


def test_a_definition_that_is_not_json_is_diagnosed_as_aws_does(sfn):
    r = sfn.validate_state_machine_definition(definition="not a definition", type="STANDARD")
    where = '[Source: (String)"not a definition"; line: 1, column: 4]'
    assert (r["result"], r["diagnostics"]) == ("FAIL", [{
        "severity": "ERROR", "code": "INVALID_JSON_DESCRIPTION", "location": where,
        "message": "Unrecognized token 'not': was expecting (JSON String, Number, Array, Object or token "
                   f"'null', 'true' or 'false')\n at {where}"}])
    # Blank text is not a JSON object, as AWS words it.
    r = sfn.validate_state_machine_definition(definition=" ", type="STANDARD")
    assert r["diagnostics"][0]["code"] == "SCHEMA_VALIDATION_FAILED"
    # CreateStateMachine refuses it with the same problem (we once showed
    # our JSON reader's words under SCHEMA_VALIDATION_FAILED).
    message = refused(sfn.create_state_machine, sfn.exceptions.InvalidDefinition,
                      name="not_json", definition="not a definition", roleArn=ROLE)
    assert message == ("Invalid State Machine Definition: 'INVALID_JSON_DESCRIPTION: Unrecognized token 'not': was "
                       "expecting (JSON String, Number, Array, Object or token 'null', 'true' or 'false')\n"
                       f" at {where}'"), message


def test_an_alias_that_exists_with_another_routing_is_a_conflict_in_awss_words(sfn):
    created = sfn.create_state_machine(name="aliased", definition=PASS, roleArn=ROLE, publish=True)
    version = created["stateMachineVersionArn"]
    sfn.create_state_machine_alias(name="live", routingConfiguration=[{"stateMachineVersionArn": version, "weight": 100}])
    message = refused(sfn.create_state_machine_alias, sfn.exceptions.ConflictException, name="live",
                      description="another", routingConfiguration=[{"stateMachineVersionArn": version, "weight": 100}])
    assert message == ("Failed to create alias because an alias with the same name and a different "
                       "routing configuration already exists.")


def test_an_express_executions_arn_ends_in_an_id_of_its_own(sfn):
    named = json.dumps({"StartAt": "P", "States": {"P": {
        "Type": "Pass", "Parameters": {"name.$": "$$.Execution.Name"}, "End": True}}})
    arn = sfn.create_state_machine(name="quick", definition=named, roleArn=ROLE, type="EXPRESS")["stateMachineArn"]
    started = sfn.start_sync_execution(stateMachineArn=arn, name="named")
    assert json.loads(started["output"]) == {"name": "named"}
    *_, kind, machine, name, own = started["executionArn"].split(":")
    assert (kind, machine, name) == ("express", "quick", "named")
    assert own != name and len(own) >= 32, started["executionArn"]
    other = sfn.start_execution(stateMachineArn=arn, name="named")["executionArn"]
    assert other.split(":")[-1] not in (own, "named")


def test_a_timed_out_execution_is_described_without_an_error(sfn):
    """AWS (LocalStack's test_global_timeout, recorded on AWS) describes a
    TIMED_OUT execution with no `error` or `cause`; its history's
    ExecutionTimedOut carries States.Timeout. We described it with the
    error."""
    machine = json.dumps({"TimeoutSeconds": 1, "StartAt": "W",
                          "States": {"W": {"Type": "Wait", "Seconds": 60, "End": True}}})
    arn = sfn.create_state_machine(name="times-out", definition=machine, roleArn=ROLE)["stateMachineArn"]
    ex = sfn.start_execution(stateMachineArn=arn)["executionArn"]
    d = wait_for(sfn, ex, timeout=15)
    assert d["status"] == "TIMED_OUT"
    assert "error" not in d and "cause" not in d, d
    events = sfn.get_execution_history(executionArn=ex)["events"]
    assert events[-1]["type"] == "ExecutionTimedOut"
    assert events[-1]["executionTimedOutEventDetails"]["error"] == "States.Timeout"


def test_a_missed_heartbeat_is_reported_as_a_timeout(sfn):
    """AWS reports a missed heartbeat as States.Timeout (LocalStack's
    test_heartbeat_timeout, recorded on AWS): TaskTimedOut, then
    ExecutionFailed, both with States.Timeout. States.HeartbeatTimeout is a
    name for Retry and Catch rules alone. We reported
    States.HeartbeatTimeout."""
    activity = sfn.create_activity(name="beats")["activityArn"]
    machine = json.dumps({"StartAt": "A", "States": {"A": {
        "Type": "Task", "Resource": activity, "HeartbeatSeconds": 1, "TimeoutSeconds": 60, "End": True}}})
    arn = sfn.create_state_machine(name="misses-a-beat", definition=machine, roleArn=ROLE)["stateMachineArn"]
    ex = sfn.start_execution(stateMachineArn=arn)["executionArn"]
    sfn.get_activity_task(activityArn=activity)
    d = wait_for(sfn, ex, timeout=15)
    assert (d["status"], d["error"]) == ("FAILED", "States.Timeout"), d
    events = sfn.get_execution_history(executionArn=ex)["events"]
    assert [(e["type"], e.get("activityTimedOutEventDetails", e.get("executionFailedEventDetails", {})).get("error"))
            for e in events[-2:]] == [("ActivityTimedOut", "States.Timeout"), ("ExecutionFailed", "States.Timeout")]


def test_a_token_that_cannot_be_ours_is_refused_first_in_awss_words(sfn):
    """AWS refuses a task token it never gave before it looks at the output,
    with 'Invalid Token: 'Invalid token'' (LocalStack's
    test_sfn_send_task_outcome_with_no_such_token, recorded on AWS). We
    refused a non-JSON output first, and echoed the token."""
    for call, kw in [(sfn.send_task_success, {"output": "ParameterOutput"}),
                     (sfn.send_task_success, {"output": "{}"}),
                     (sfn.send_task_failure, {}), (sfn.send_task_heartbeat, {})]:
        # And 'bad_token' (moto 5.2.5's suite, run on AWS), which we once
        # refused as a request AWS could not authenticate.
        for token in ["NoSuchTaskToken", "bad_token"]:
            message = refused(call, sfn.exceptions.InvalidToken, taskToken=token, **kw)
            assert message == "Invalid Token: 'Invalid token'", (call, token, message)


def test_every_answer_carries_a_request_id(sfn):
    """AWS answers every request, refusals too, with an x-amzn-RequestId
    (boto3's ResponseMetadata.RequestId; an SDK error's 'Request ID: …').
    Ours had none."""
    ok = sfn.list_activities()["ResponseMetadata"]["RequestId"]
    with pytest.raises(sfn.exceptions.InvalidArn) as e:
        sfn.describe_activity(activityArn="not-an-arn")
    refused_id = e.value.response["ResponseMetadata"]["RequestId"]
    assert len(ok) == 36 and len(refused_id) == 36 and ok != refused_id, (ok, refused_id)


def test_publishing_an_unchanged_machine_with_a_new_description_is_a_new_version(sfn):
    """moto's suite, run on AWS: an update that publishes the same
    definition with another description gives a version with that
    description. We answered with the first version, whose description
    was the old one. The same revision and description is still the same
    version (the recorded conversations)."""
    made = sfn.create_state_machine(name="described", definition=PASS, roleArn=ROLE,
                                    publish=True, versionDescription="first version")
    arn, v1 = made["stateMachineArn"], made["stateMachineVersionArn"]
    again = sfn.update_state_machine(stateMachineArn=arn, definition=PASS, publish=True,
                                     versionDescription="first version")["stateMachineVersionArn"]
    assert again == v1
    v2 = sfn.update_state_machine(stateMachineArn=arn, definition=PASS, publish=True,
                                  versionDescription="second version")["stateMachineVersionArn"]
    assert v2 == arn + ":2"
    assert sfn.describe_state_machine(stateMachineArn=v2)["description"] == "second version"
    assert sfn.describe_state_machine(stateMachineArn=v1)["description"] == "first version"
    v3 = sfn.publish_state_machine_version(stateMachineArn=arn, description="third")["stateMachineVersionArn"]
    assert v3 == arn + ":3"


def test_validate_state_machine_definition_holds_to_its_api_model(sfn):
    """The model's constraints (floci's suite checks them): a definition of
    one character or more, a severity of ERROR or WARNING, 0 to 100
    results, and `truncated` when more were found. We answered every such
    request, and gave every diagnostic whatever maxResults said."""
    # (boto3 would refuse them itself: the raw requests, as another client sends them.)
    sfn = boto3.client("stepfunctions", endpoint_url=sfn.meta.endpoint_url, region_name="us-east-1",
                       aws_access_key_id="test", aws_secret_access_key="test",
                       config=Config(parameter_validation=False))
    for kw, says in [({"definition": ""}, "at 'definition' failed to satisfy constraint: Member must have length greater than or equal to 1"),
                     ({"definition": PASS, "severity": "GARBAGE"}, "Member must satisfy enum value set: [ERROR, WARNING]"),
                     ({"definition": PASS, "maxResults": 101}, "Member must have value less than or equal to 100"),
                     ({"definition": PASS, "maxResults": -1}, "Member must have value greater than or equal to 0")]:
        assert says in refused(sfn.validate_state_machine_definition, sfn.exceptions.ValidationException, **kw)
    broken = json.dumps({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "B"},
                                                   "C": {"Type": "Wait", "End": True}}})
    every = sfn.validate_state_machine_definition(definition=broken)
    assert len(every["diagnostics"]) >= 2 and not every["truncated"], every
    one = sfn.validate_state_machine_definition(definition=broken, maxResults=1)
    assert (one["diagnostics"], one["truncated"]) == (every["diagnostics"][:1], True), one
    assert sfn.validate_state_machine_definition(definition=PASS, severity="WARNING")["result"] == "OK"


def test_a_versions_arn_lists_the_aliases_that_route_to_it(sfn):
    """ListStateMachineAliases on a version's ARN lists the aliases that
    route to that version (the API reference; floci's suite). We refused
    the ARN."""
    made = sfn.create_state_machine(name="aliased", definition=PASS, roleArn=ROLE, publish=True)
    arn, v1 = made["stateMachineArn"], made["stateMachineVersionArn"]
    v2 = sfn.update_state_machine(stateMachineArn=arn, publish=True, definition=json.dumps(
        {"StartAt": "Q", "States": {"Q": {"Type": "Pass", "End": True}}}))["stateMachineVersionArn"]
    only_v1 = sfn.create_state_machine_alias(
        name="one", routingConfiguration=[{"stateMachineVersionArn": v1, "weight": 100}])["stateMachineAliasArn"]
    split = sfn.create_state_machine_alias(name="split", routingConfiguration=[
        {"stateMachineVersionArn": v1, "weight": 50},
        {"stateMachineVersionArn": v2, "weight": 50}])["stateMachineAliasArn"]

    def listed(of):
        return sorted(a["stateMachineAliasArn"] for a in sfn.list_state_machine_aliases(stateMachineArn=of)["stateMachineAliases"])
    assert listed(arn) == sorted([only_v1, split])
    assert listed(v1) == sorted([only_v1, split])
    assert listed(v2) == [split]
    with pytest.raises(sfn.exceptions.ClientError):
        sfn.list_state_machine_aliases(stateMachineArn=arn + ":9")


def test_a_name_over_80_characters_is_refused_by_the_models_length_limit(sfn):
    """AWS checks the model's 1-80 before the name's characters: a
    ValidationException, where we answered InvalidName."""
    long = "t" * 81
    expected = (f"1 validation error detected: Value '{long}' at 'name' failed to satisfy constraint: "
                "Member must have length less than or equal to 80")
    assert refused(sfn.create_state_machine, sfn.exceptions.ValidationException,
                   name=long, definition=PASS, roleArn=ROLE) == expected
    arn = sfn.create_state_machine(name="named", definition=PASS, roleArn=ROLE)["stateMachineArn"]
    assert refused(sfn.start_execution, sfn.exceptions.ValidationException, stateMachineArn=arn, name=long) == expected
    assert refused(sfn.create_activity, sfn.exceptions.ValidationException, name=long) == expected
    assert sfn.list_executions(stateMachineArn=arn)["executions"] == []
    assert sfn.list_activities()["activities"] == []
