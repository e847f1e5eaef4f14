"""What a hostile or careless user sends: every request gets a 4xx in AWS's
shape or a failed execution, on both backends, and the server keeps serving."""
import json
import urllib.error
import urllib.request
import uuid

import pytest

from conftest import ROLE, Server, client, wait_for

AWS = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_REGION": "us-east-1"}


@pytest.fixture(scope="module", params=["embedded", "aws"])
def served(request, moto):
    if request.param == "embedded":
        s = Server(["--in-memory"]).start()
    else:
        name = "hostile-" + uuid.uuid4().hex[:8]
        s = Server(["--backend", "aws", "--create-resources", "--table", name, "--queue", name],
                   env=dict(AWS, AWS_ENDPOINT_URL=moto)).start()
    yield s
    assert s.proc.poll() is None, "the server died"
    s.stop()


def raw(url, action, body: bytes):
    req = urllib.request.Request(url + "/", data=body, method="POST", headers={
        "X-Amz-Target": f"AWSStepFunctions.{action}", "Content-Type": "application/x-amz-json-1.0"})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, json.loads(r.read() or b"{}")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def still_serving(served):
    sfn = client(served.url)
    name = "alive-" + uuid.uuid4().hex[:8]
    arn = sfn.create_state_machine(name=name, roleArn=ROLE, definition=json.dumps(
        {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}))["stateMachineArn"]
    assert wait_for(sfn, sfn.start_execution(stateMachineArn=arn)["executionArn"])["status"] == "SUCCEEDED"


@pytest.mark.parametrize("action,body", [
    ("CreateStateMachine", {"name": "x", "definition": "{}", "roleArn": ROLE, "tags": {"k": "v"}}),
    ("CreateStateMachine", {"name": "x", "definition": "{}", "roleArn": ROLE, "publish": "true"}),
    ("StartExecution", {"stateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:x", "traceHeader": 1}),
    ("GetExecutionHistory", {"executionArn": "arn:aws:states:us-east-1:123456789012:execution:x:y", "reverseOrder": 1}),
    ("ListExecutions", {"stateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:x", "maxResults": "5"}),
    ("UntagResource", {"resourceArn": "arn:aws:states:us-east-1:123456789012:stateMachine:x", "tagKeys": "k"}),
])
def test_members_of_the_wrong_type_are_serialization_errors(served, action, body):
    status, out = raw(served.url, action, json.dumps(body).encode())
    assert (status, out.get("__type")) == (400, "SerializationException"), out


def test_oversized_members_and_bodies_are_refused_in_aws_shape(served):
    status, out = raw(served.url, "CreateStateMachine", json.dumps(
        {"name": "big", "roleArn": ROLE, "definition": "x" * 1_048_577}).encode())
    assert (status, out.get("__type")) == (400, "ValidationException"), out
    status, out = raw(served.url, "CreateStateMachine", json.dumps(
        {"name": "v", "roleArn": ROLE, "definition": "{}", "publish": True,
         "versionDescription": "d" * (1 << 20)}).encode())
    assert (status, out.get("__type")) == (400, "ValidationException"), out
    status, out = raw(served.url, "ListStateMachines", b"{" + b" " * (3 << 20) + b"}")
    assert (status, out.get("__type")) == (413, "ValidationException"), out
    still_serving(served)


def test_a_tag_key_over_128_characters_is_refused(served):
    sfn = client(served.url)
    arn = sfn.create_state_machine(name="tagged-" + uuid.uuid4().hex[:8], roleArn=ROLE, definition=json.dumps(
        {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}))["stateMachineArn"]
    with pytest.raises(sfn.exceptions.ValidationException):
        sfn.tag_resource(resourceArn=arn, tags=[{"key": "k" * 200, "value": "v"}])


@pytest.mark.parametrize("ws", ["\u0085", "\u00a0", "\u2028"])
def test_non_ascii_whitespace_in_an_intrinsic_is_no_crash(served, ws):
    sfn = client(served.url)
    definition = {"StartAt": "P", "States": {"P": {"Type": "Pass", "Parameters": {
        "v.$": f"States.Format({ws}'x{{}}',{ws}$.a)"}, "End": True}}}
    arn = sfn.create_state_machine(name="ws-" + uuid.uuid4().hex[:8], roleArn=ROLE,
                                   definition=json.dumps(definition))["stateMachineArn"]
    d = wait_for(sfn, sfn.start_execution(stateMachineArn=arn, input='{"a": 1}')["executionArn"])
    assert (d["status"], json.loads(d["output"])) == ("SUCCEEDED", {"v": "x1"})
    still_serving(served)


def test_intrinsics_nested_thousands_deep_are_an_invalid_definition(served):
    sfn = client(served.url)
    deep = "States.StringToJson(States.JsonToString(" * 1500 + "$.a" + "))" * 1500
    definition = {"StartAt": "P", "States": {"P": {"Type": "Pass", "Parameters": {"v.$": deep}, "End": True}}}
    with pytest.raises(sfn.exceptions.InvalidDefinition):
        sfn.create_state_machine(name="deep-" + uuid.uuid4().hex[:8], roleArn=ROLE,
                                 definition=json.dumps(definition))
    still_serving(served)
