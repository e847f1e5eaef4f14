"""State machines, versions, aliases, validation, tags: with boto3."""
import json

import pytest
from botocore.exceptions import ClientError

from conftest import ROLE

PASS = json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})
PASS2 = json.dumps({"StartAt": "Q", "States": {"Q": {"Type": "Pass", "Result": 2, "End": True}}})


def error_code(excinfo):
    return excinfo.value.response["Error"]["Code"]


def test_create_describe_update_delete(sfn):
    arn = sfn.create_state_machine(name="m1", definition=PASS, roleArn=ROLE)["stateMachineArn"]
    assert arn == "arn:aws:states:us-east-1:123456789012:stateMachine:m1"
    d = sfn.describe_state_machine(stateMachineArn=arn)
    assert (d["name"], d["type"], d["status"], json.loads(d["definition"])) == ("m1", "STANDARD", "ACTIVE", json.loads(PASS))
    # Same name, same definition: the same machine comes back.
    assert sfn.create_state_machine(name="m1", definition=PASS, roleArn=ROLE)["stateMachineArn"] == arn
    with pytest.raises(ClientError) as e:
        sfn.create_state_machine(name="m1", definition=PASS2, roleArn=ROLE)
    assert error_code(e) == "StateMachineAlreadyExists"
    sfn.update_state_machine(stateMachineArn=arn, definition=PASS2)
    assert json.loads(sfn.describe_state_machine(stateMachineArn=arn)["definition"])["StartAt"] == "Q"
    sfn.delete_state_machine(stateMachineArn=arn)
    with pytest.raises(ClientError) as e:
        sfn.describe_state_machine(stateMachineArn=arn)
    assert error_code(e) == "StateMachineDoesNotExist"


def test_list_paginates(sfn):
    for i in range(5):
        sfn.create_state_machine(name=f"page{i}", definition=PASS, roleArn=ROLE)
    first = sfn.list_state_machines(maxResults=2)
    assert [m["name"] for m in first["stateMachines"]] == ["page0", "page1"]
    names = [m["name"] for page in sfn.get_paginator("list_state_machines").paginate(PaginationConfig={"PageSize": 2}) for m in page["stateMachines"]]
    assert names == [f"page{i}" for i in range(5)]


@pytest.mark.parametrize("kwargs,code", [
    ({"name": "bad name", "definition": PASS}, "InvalidName"),
    # The model's length limit, checked before the name's characters (AWS).
    ({"name": "x" * 81, "definition": PASS}, "ValidationException"),
    ({"name": "ok", "definition": "{"}, "InvalidDefinition"),
    ({"name": "ok", "definition": json.dumps({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "B"}}})}, "InvalidDefinition"),
])
def test_create_rejects_bad_input(sfn, kwargs, code):
    with pytest.raises(ClientError) as e:
        sfn.create_state_machine(roleArn=ROLE, **kwargs)
    assert error_code(e) == code
    assert sfn.list_state_machines()["stateMachines"] == []


def test_invalid_definition_names_every_problem(sfn):
    bad = {"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "Nope", "Bogus": 1}}}
    with pytest.raises(ClientError) as e:
        sfn.create_state_machine(name="bad", definition=json.dumps(bad), roleArn=ROLE)
    msg = e.value.response["Error"]["Message"]
    assert "Missing 'Next' target: Nope at /States/A/Next" in msg and "/States/A/Bogus" in msg


def test_validate_state_machine_definition(sfn):
    assert sfn.validate_state_machine_definition(definition=PASS)["result"] == "OK"
    out = sfn.validate_state_machine_definition(definition=json.dumps({"StartAt": "A", "States": {}}))
    assert out["result"] == "FAIL" and out["diagnostics"][0]["severity"] == "ERROR"


def test_invalid_arns(sfn):
    for arn in ["nope", "arn:aws:states:us-east-1:123456789012:activity:a"]:
        with pytest.raises(ClientError) as e:
            sfn.describe_state_machine(stateMachineArn=arn)
        assert error_code(e) == "InvalidArn"


def test_versions_and_aliases(sfn):
    arn = sfn.create_state_machine(name="v", definition=PASS, roleArn=ROLE, publish=True)["stateMachineArn"]
    v1 = sfn.list_state_machine_versions(stateMachineArn=arn)["stateMachineVersions"][0]["stateMachineVersionArn"]
    assert v1 == arn + ":1"
    sfn.update_state_machine(stateMachineArn=arn, definition=PASS2)
    v2 = sfn.publish_state_machine_version(stateMachineArn=arn, description="two")["stateMachineVersionArn"]
    assert v2 == arn + ":2"
    assert json.loads(sfn.describe_state_machine(stateMachineArn=v1)["definition"])["StartAt"] == "P"
    alias = sfn.create_state_machine_alias(name="live", routingConfiguration=[{"stateMachineVersionArn": v1, "weight": 100}])["stateMachineAliasArn"]
    assert sfn.describe_state_machine_alias(stateMachineAliasArn=alias)["routingConfiguration"][0]["stateMachineVersionArn"] == v1
    sfn.update_state_machine_alias(stateMachineAliasArn=alias, routingConfiguration=[{"stateMachineVersionArn": v2, "weight": 100}])
    ex = sfn.start_execution(stateMachineArn=alias, name="via-alias")["executionArn"]
    from conftest import wait_for
    d = wait_for(sfn, ex)
    assert (d["status"], d["output"], d["stateMachineVersionArn"]) == ("SUCCEEDED", "2", v2)
    assert [a["stateMachineAliasArn"] for a in sfn.list_state_machine_aliases(stateMachineArn=arn)["stateMachineAliases"]] == [alias]
    with pytest.raises(ClientError) as e:
        sfn.delete_state_machine_version(stateMachineVersionArn=v2)
    assert error_code(e) == "ConflictException"
    sfn.delete_state_machine_alias(stateMachineAliasArn=alias)
    sfn.delete_state_machine_version(stateMachineVersionArn=v2)
    assert len(sfn.list_state_machine_versions(stateMachineArn=arn)["stateMachineVersions"]) == 1


def test_tags(sfn):
    arn = sfn.create_state_machine(name="t", definition=PASS, roleArn=ROLE, tags=[{"key": "team", "value": "a"}])["stateMachineArn"]
    sfn.tag_resource(resourceArn=arn, tags=[{"key": "env", "value": "dev"}])
    assert sfn.list_tags_for_resource(resourceArn=arn)["tags"] == [{"key": "env", "value": "dev"}, {"key": "team", "value": "a"}]
    sfn.untag_resource(resourceArn=arn, tagKeys=["team"])
    assert sfn.list_tags_for_resource(resourceArn=arn)["tags"] == [{"key": "env", "value": "dev"}]
    with pytest.raises(ClientError) as e:
        sfn.list_tags_for_resource(resourceArn=arn + "-missing")
    assert error_code(e) == "ResourceNotFound"
