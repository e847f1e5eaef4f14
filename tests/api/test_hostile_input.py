"""What a hostile or careless user sends: every request gets a 4xx in AWS's
shape or a failed execution, on both backends, and the server keeps serving."""
import json
import time
import urllib.error
import urllib.request
import uuid

import pytest

from conftest import BACKENDS, ROLE, Server, client, durable, serve_on, wait_for

@pytest.fixture(scope="module", params=BACKENDS)
def served(request, moto):
    s = serve_on(request.param, moto, "hostile")
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


def definition_error(sfn, definition: str):
    with pytest.raises(sfn.exceptions.InvalidDefinition) as e:
        sfn.create_state_machine(name="bad-" + uuid.uuid4().hex[:8], roleArn=ROLE, definition=definition)
    return e.value.response["Error"]["Message"]


def test_jsonata_and_templates_nested_a_thousand_deep_are_an_invalid_definition(served):
    """Once a stack overflow that killed the server in CreateStateMachine."""
    sfn = client(served.url)
    deep = "{% " + "(" * 1000 + "1" + ")" * 1000 + " %}"
    message = definition_error(sfn, json.dumps({"QueryLanguage": "JSONata", "StartAt": "P", "States": {
        "P": {"Type": "Pass", "Output": deep, "End": True}}}))
    assert "JSONata" in message
    template = '{"a":' * 1000 + '"x"' + "}" * 1000
    message = definition_error(
        sfn, '{"StartAt":"P","States":{"P":{"Type":"Pass","Parameters":' + template + ',"End":true}}}')
    assert "recursion limit" in message
    still_serving(served)


def test_a_string_of_a_billion_characters_fails_the_execution_not_the_server(served):
    """`$pad('x', -1e9)`: 1 GB from a 40-byte expression, refused before it allocates."""
    sfn = client(served.url)
    arn = sfn.create_state_machine(name="pad-" + uuid.uuid4().hex[:8], roleArn=ROLE, definition=json.dumps({
        "QueryLanguage": "JSONata", "StartAt": "P",
        "States": {"P": {"Type": "Pass", "Output": "{% $pad('x', -1e9) %}", "End": True}}}))["stateMachineArn"]
    d = wait_for(sfn, sfn.start_execution(stateMachineArn=arn)["executionArn"])
    assert (d["status"], d["error"]) == ("FAILED", "States.QueryEvaluationError")
    still_serving(served)


def wait_until_in_the_wait(sfn, ex):
    deadline = time.time() + 10
    while "WaitStateEntered" not in [e["type"] for e in sfn.get_execution_history(executionArn=ex)["events"]]:
        assert time.time() < deadline
        time.sleep(0.02)


# JsonToString 32 times over: each doubles the escaping, a string of
# gigabytes. After a Wait, so that the execution is stored before it runs.
POISON = {"StartAt": "W", "States": {
    "W": {"Type": "Wait", "Seconds": 1, "Next": "P"},
    "P": {"Type": "Pass", "Parameters": {"v.$": "States.JsonToString(" * 32 + "$.s" + ")" * 32}, "End": True}}}


@pytest.mark.parametrize("kind", BACKENDS)
def test_a_poison_execution_fails_and_the_server_restarts_cleanly(kind, moto, tmp_path):
    """Once a crash loop: the durable execution killed the restarted server
    on the same step. Now it fails, before and after a kill -9 mid-Wait."""
    args, env, _ = durable(kind, moto, tmp_path)
    s = Server(args, env=env).start()
    sfn = client(s.url)
    arn = sfn.create_state_machine(name="poison", roleArn=ROLE, definition=json.dumps(POISON))["stateMachineArn"]
    ex = sfn.start_execution(stateMachineArn=arn, input=json.dumps({"s": 'a"b\\c'}))["executionArn"]
    # Killed in the Wait: the step that fails is the restarted server's.
    wait_until_in_the_wait(sfn, ex)
    s.kill()
    s = Server(args, env=env).start()
    try:
        sfn = client(s.url)
        d = wait_for(sfn, ex, timeout=30)
        assert d["status"] == "FAILED" and d["error"].startswith("States."), d
        still_serving(s)
        assert s.proc.poll() is None, "the server died"
    finally:
        s.stop()


WAITS = {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 1, "Next": "P"},
                                    "P": {"Type": "Pass", "Result": "done", "End": True}}}


@pytest.mark.parametrize("kind", BACKENDS)
def test_an_execution_whose_stored_state_is_unreadable_fails_alone(kind, moto, tmp_path):
    """A stored thread that cannot be read once made every batch of the
    SQLite worker fail and be replayed, forever (no write succeeded again),
    and cycled a step message to the dead-letter queue with the execution
    RUNNING for ever. Now its execution fails with States.Runtime and every
    other one goes on."""
    import sqlite3
    import boto3
    args, env, table = durable(kind, moto, tmp_path)
    s = Server(args, env=env).start()
    sfn = client(s.url)
    arn = sfn.create_state_machine(name="waits", roleArn=ROLE, definition=json.dumps(WAITS))["stateMachineArn"]
    bad = sfn.start_execution(stateMachineArn=arn, name="bad")["executionArn"]
    good = sfn.start_execution(stateMachineArn=arn, name="good")["executionArn"]
    if kind == "embedded":
        wait_until_in_the_wait(sfn, bad)
        s.kill()
        db = sqlite3.connect(tmp_path / "stepwise.db")
        damage = ("UPDATE st_threads SET body = '{not json' "
                  "WHERE eid = (SELECT eid FROM st_executions WHERE arn = ?)")
        assert db.execute(damage, (bad,)).rowcount == 1
        db.commit()
        db.close()
        s = Server(args, env=env).start()
    else:
        # In the Wait: the thread is saved, its next message a second away.
        wait_until_in_the_wait(sfn, bad)
        ddb = boto3.client("dynamodb", endpoint_url=moto, region_name="us-east-1",
                           aws_access_key_id="test", aws_secret_access_key="test")
        ddb.update_item(TableName=table, Key={"pk": {"S": bad}, "sk": {"S": "t#root"}},
                        UpdateExpression="SET body = :b", ExpressionAttributeValues={":b": {"B": b"\xffnot a record"}},
                        ConditionExpression="attribute_exists(pk)")
    try:
        sfn = client(s.url)
        d = wait_for(sfn, bad, timeout=30)
        assert (d["status"], d["error"]) == ("FAILED", "States.Runtime"), d
        assert "could not be stepped" in d["cause"]
        events = sfn.get_execution_history(executionArn=bad)["events"]
        assert events[-1]["type"] == "ExecutionFailed"
        assert events[-1]["executionFailedEventDetails"]["error"] == "States.Runtime"
        assert (wait_for(sfn, good, timeout=15)["status"]) == "SUCCEEDED"
        still = sfn.start_execution(stateMachineArn=arn, name="after")["executionArn"]
        assert wait_for(sfn, still, timeout=15)["status"] == "SUCCEEDED"
        assert s.proc.poll() is None
    finally:
        s.stop()


def test_a_redrive_of_an_execution_whose_stored_record_is_unreadable_is_refused(tmp_path):
    """A damaged row (its record not JSON) once panicked the embedded
    backend on RedriveExecution; now the redrive is refused, saying why,
    and the server goes on serving."""
    import sqlite3
    s = Server(["--data", str(tmp_path)]).start()
    sfn = client(s.url)
    fail = {"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "E"}}}
    arn = sfn.create_state_machine(name="fails", roleArn=ROLE, definition=json.dumps(fail))["stateMachineArn"]
    ex = sfn.start_execution(stateMachineArn=arn, name="damaged")["executionArn"]
    assert wait_for(sfn, ex)["status"] == "FAILED"
    s.kill()
    db = sqlite3.connect(tmp_path / "stepwise.db")
    assert db.execute("UPDATE st_executions SET body = '{not json' WHERE arn = ?", (ex,)).rowcount == 1
    db.commit()
    db.close()
    s = Server(["--data", str(tmp_path)]).start()
    try:
        sfn = client(s.url)
        from botocore.exceptions import ClientError
        with pytest.raises(ClientError) as refused:
            sfn.redrive_execution(executionArn=ex)
        assert "a stored record cannot be read" in str(refused.value)
        still = sfn.start_execution(stateMachineArn=arn, name="after")["executionArn"]
        assert wait_for(sfn, still)["status"] == "FAILED"
        assert s.proc.poll() is None
    finally:
        s.stop()
