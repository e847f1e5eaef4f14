"""One implementation of each action: the same calls, the same answers, on
both `stepwise serve` backends (embedded SQLite; `--backend aws` on moto).
Each test here is a regression test for a way the backends once differed."""
import collections
import datetime
import http.server
import json
import os
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid

import pytest
from botocore.exceptions import ClientError

from conftest import BINARY, ROLE, Server, client, serve_on, wait_for

PASS = {"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": "one", "End": True}}}
WAIT = {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 2, "Next": "P"},
                                   "P": {"Type": "Pass", "Result": "one", "End": True}}}
LAMBDA = {"StartAt": "T", "States": {"T": {
    "Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:f", "End": True}}}
MOCKS = {"StateMachines": {"M": {"TestCases": {"Happy": {"T": "Ok", "Flaky": "FailsOnce"}}}},
         "MockedResponses": {
             "Ok": {"0": {"Return": {"StatusCode": 200, "Payload": {"x": 1}}}},
             "FailsOnce": {"0": {"Throw": {"Error": "Flaky.Boom", "Cause": "first time"}},
                           "1": {"Return": {"StatusCode": 200, "Payload": {"y": 2}}}}}}


@pytest.fixture(scope="module", params=["embedded", "aws"])
def backend(request, moto):
    mocks = tempfile.NamedTemporaryFile("w", suffix=".json", delete=False)
    json.dump(MOCKS, mocks)
    mocks.close()
    args = ["--mock-config", mocks.name, "--test-case", "Happy", "--mock-machine", "M"]
    s = serve_on(request.param, moto, "one-engine", args)
    yield client(s.url)
    s.stop()
    os.unlink(mocks.name)


def fresh(prefix="m"):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def create(sfn, definition, **kw):
    return sfn.create_state_machine(name=fresh(), roleArn=ROLE, definition=json.dumps(definition), **kw)


def test_describe_state_machine_for_execution_is_what_ran_not_the_update(backend):
    arn = create(backend, WAIT)["stateMachineArn"]
    ex = backend.start_execution(stateMachineArn=arn)["executionArn"]
    backend.update_state_machine(stateMachineArn=arn, definition=json.dumps(PASS))
    ran = backend.describe_state_machine_for_execution(executionArn=ex)
    assert json.loads(ran["definition"]) == WAIT
    assert json.loads(backend.describe_state_machine(stateMachineArn=arn)["definition"]) == PASS
    assert wait_for(backend, ex)["status"] == "SUCCEEDED"


def test_revision_id_appears_only_once_an_update_changes_something(backend):
    arn = create(backend, PASS)["stateMachineArn"]
    assert "revisionId" not in backend.describe_state_machine(stateMachineArn=arn)
    first = backend.update_state_machine(stateMachineArn=arn, definition=json.dumps(WAIT))["revisionId"]
    again = backend.update_state_machine(stateMachineArn=arn, definition=json.dumps(WAIT))["revisionId"]
    assert first == again == backend.describe_state_machine(stateMachineArn=arn)["revisionId"]
    d = backend.describe_state_machine(stateMachineArn=arn)
    assert d["encryptionConfiguration"] == {"type": "AWS_OWNED_KEY"}
    assert d["loggingConfiguration"] == {"level": "OFF", "includeExecutionData": False}


def test_versions_aliases_and_tags_work_alike(backend):
    created = create(backend, PASS, publish=True, tags=[{"key": "team", "value": "a"}])
    arn, v1 = created["stateMachineArn"], created["stateMachineVersionArn"]
    assert v1 == arn + ":1"
    # Publishing an unchanged revision again is the same version.
    assert backend.publish_state_machine_version(stateMachineArn=arn)["stateMachineVersionArn"] == v1
    v2 = backend.update_state_machine(stateMachineArn=arn, definition=json.dumps(WAIT),
                                      publish=True, versionDescription="two")["stateMachineVersionArn"]
    assert v2 == arn + ":2"
    assert backend.describe_state_machine(stateMachineArn=v2)["description"] == "two"
    listed = backend.list_state_machine_versions(stateMachineArn=arn)["stateMachineVersions"]
    assert [v["stateMachineVersionArn"] for v in listed] == [v2, v1]
    alias = backend.create_state_machine_alias(
        name="live", routingConfiguration=[{"stateMachineVersionArn": v1, "weight": 100}])["stateMachineAliasArn"]
    ex = backend.start_execution(stateMachineArn=alias)["executionArn"]
    d = wait_for(backend, ex)
    assert (d["status"], d["stateMachineAliasArn"], d["stateMachineVersionArn"]) == ("SUCCEEDED", alias, v1)
    with pytest.raises(backend.exceptions.ConflictException):
        backend.delete_state_machine_version(stateMachineVersionArn=v1)
    with pytest.raises(backend.exceptions.ValidationException):
        backend.create_state_machine_alias(
            name="123", routingConfiguration=[{"stateMachineVersionArn": v1, "weight": 100}])
    backend.tag_resource(resourceArn=arn, tags=[{"key": "env", "value": "dev"}])
    backend.untag_resource(resourceArn=arn, tagKeys=["team"])
    assert backend.list_tags_for_resource(resourceArn=arn)["tags"] == [{"key": "env", "value": "dev"}]
    with pytest.raises(backend.exceptions.ResourceNotFound):
        backend.tag_resource(resourceArn=v1, tags=[{"key": "k", "value": "v"}])
    with pytest.raises(backend.exceptions.ValidationException):
        backend.tag_resource(resourceArn=arn, tags=[{"key": "k" * 129, "value": "v"}])
    with pytest.raises(backend.exceptions.InvalidLoggingConfiguration):
        create(backend, PASS, loggingConfiguration={"level": "ALL"})
    with pytest.raises(backend.exceptions.ValidationException):
        create(backend, PASS, versionDescription="without publish")
    with pytest.raises(backend.exceptions.InvalidToken):
        backend.list_state_machine_versions(stateMachineArn=arn, nextToken="not-ours")


def test_a_mocked_lambda_answers_alike_in_run_and_in_serve(backend):
    arn = backend.create_state_machine(name="M", roleArn=ROLE, definition=json.dumps(LAMBDA))["stateMachineArn"]
    d = wait_for(backend, backend.start_execution(stateMachineArn=arn)["executionArn"])
    assert json.loads(d["output"]) == {"x": 1}
    with tempfile.TemporaryDirectory() as tmp:
        path, mocks = os.path.join(tmp, "m.json"), os.path.join(tmp, "mocks.json")
        json.dump(LAMBDA, open(path, "w"))
        json.dump(MOCKS, open(mocks, "w"))
        out = subprocess.run([BINARY, "run", path, "--name", "M", "--mock-config", mocks,
                              "--test-case", "Happy"], capture_output=True, text=True, timeout=30)
    assert json.loads(out.stdout.strip().splitlines()[-1])["output"] == {"x": 1}


def test_start_sync_execution_runs_tasks_down_the_same_chain_as_executions(backend):
    """Once, StartSyncExecution on the embedded backend ran tasks down a
    chain of its own, without the server's mock configuration."""
    arn = create(backend, LAMBDA, type="EXPRESS")["stateMachineArn"]
    d = backend.start_sync_execution(stateMachineArn=arn)
    assert (d["status"], json.loads(d["output"])) == ("SUCCEEDED", {"x": 1})


def test_start_sync_execution_starts_a_child_execution_as_start_execution_does(backend):
    """Once, an EXPRESS machine starting another execution (request-response
    `states:startExecution`) did so when started by StartExecution, but
    failed under StartSyncExecution ("No runner …") on both backends."""
    child = create(backend, PASS)["stateMachineArn"]
    parent = create(backend, {"StartAt": "S", "States": {"S": {
        "Type": "Task", "Resource": "arn:aws:states:::states:startExecution",
        "Parameters": {"StateMachineArn": child, "Input": {"x": 1}}, "End": True}}},
        type="EXPRESS")["stateMachineArn"]
    d = backend.start_sync_execution(stateMachineArn=parent)
    assert d["status"] == "SUCCEEDED", (d.get("error"), d.get("cause"))
    started = json.loads(d["output"])
    assert started["ExecutionArn"].startswith(child.replace(":stateMachine:", ":execution:") + ":")
    assert isinstance(started["StartDate"], int)
    ran = wait_for(backend, started["ExecutionArn"])
    assert (ran["status"], json.loads(ran["input"])) == ("SUCCEEDED", {"x": 1})


def test_test_state_does_not_retry_a_runtime_error_under_states_all(backend):
    task = {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": "f", "Payload.$": "$.missing"},
            "Retry": [{"ErrorEquals": ["States.ALL"], "MaxAttempts": 3}], "End": True}
    r = backend.test_state(definition=json.dumps(task), roleArn=ROLE, input="{}")
    assert (r["status"], r["error"]) == ("FAILED", "States.Runtime")


def test_an_invalid_definition_is_named_once(backend):
    bad_state = json.dumps({"Type": "Pass", "Next": 3})
    bad_machine = json.dumps({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "Nowhere"}}})
    for call in (lambda: backend.test_state(definition=bad_state, roleArn=ROLE, input="{}"),
                 lambda: backend.create_state_machine(name=fresh(), roleArn=ROLE, definition=bad_machine)):
        with pytest.raises(backend.exceptions.InvalidDefinition) as e:
            call()
        message = e.value.response["Error"]["Message"]
        assert message.count("Invalid State Machine Definition") == 1, message


def test_the_region_comes_from_the_request(backend):
    """A client signing for us-west-2 gets us-west-2 ARNs, and its machines are
    listed there only; cn-north-1 is in the aws-cn partition."""
    url = backend.meta.endpoint_url
    west, china = client(url, "us-west-2"), client(url, "cn-north-1")
    name = fresh()
    arn = west.create_state_machine(name=name, roleArn=ROLE, definition=json.dumps(PASS))["stateMachineArn"]
    assert arn.startswith("arn:aws:states:us-west-2:") and arn.endswith(":stateMachine:" + name)
    assert arn in [m["stateMachineArn"] for m in west.list_state_machines()["stateMachines"]]
    assert arn not in [m["stateMachineArn"] for m in backend.list_state_machines()["stateMachines"]]
    ex = west.start_execution(stateMachineArn=arn)["executionArn"]
    assert ex.startswith("arn:aws:states:us-west-2:")
    assert wait_for(west, ex)["status"] == "SUCCEEDED"
    cn = china.create_state_machine(name=name, roleArn=ROLE, definition=json.dumps(PASS))["stateMachineArn"]
    assert cn.startswith("arn:aws-cn:states:cn-north-1:")


@pytest.mark.parametrize("kind", ["embedded", "aws"])
def test_the_account_comes_from_stepwise_account_id_on_both_backends(kind, moto):
    """Once, only the serverless backend took its account from
    STEPWISE_ACCOUNT_ID; the embedded one always said 123456789012."""
    s = serve_on(kind, moto, "account", env={"STEPWISE_ACCOUNT_ID": "210987654321"})
    try:
        sfn = client(s.url, "eu-west-1")
        arn = sfn.create_state_machine(name=fresh(), roleArn=ROLE, definition=json.dumps(PASS))["stateMachineArn"]
        assert arn.startswith("arn:aws:states:eu-west-1:210987654321:stateMachine:")
        ex = sfn.start_execution(stateMachineArn=arn)["executionArn"]
        assert ex.startswith("arn:aws:states:eu-west-1:210987654321:execution:")
        activity = sfn.create_activity(name=fresh())["activityArn"]
        assert activity.startswith("arn:aws:states:eu-west-1:210987654321:activity:")
    finally:
        s.stop()


def test_redrive_runs_a_failed_execution_again_from_the_state_that_failed(backend):
    machine = {"StartAt": "Before", "States": {
        "Before": {"Type": "Pass", "Result": {"n": 1}, "Next": "Flaky"},
        "Flaky": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:f", "End": True}}}
    arn = create(backend, machine)["stateMachineArn"]
    ex = backend.start_execution(stateMachineArn=arn)["executionArn"]
    failed = wait_for(backend, ex)
    assert (failed["status"], failed["error"], failed["redriveStatus"]) == ("FAILED", "Flaky.Boom", "REDRIVABLE")
    backend.redrive_execution(executionArn=ex)
    d = wait_for(backend, ex)
    assert (d["status"], json.loads(d["output"]), d["redriveCount"]) == ("SUCCEEDED", {"y": 2}, 1)
    assert "redriveDate" in d
    types = [e["type"] for e in backend.get_execution_history(executionArn=ex)["events"]]
    assert types.count("PassStateEntered") == 1, types  # Before is not run again
    after = types[types.index("ExecutionRedriven"):]
    assert after[0] == "ExecutionRedriven" and after[1] == "TaskStateEntered", types
    assert after[-2:] == ["TaskStateExited", "ExecutionSucceeded"], types
    with pytest.raises(backend.exceptions.ExecutionNotRedrivable):
        backend.redrive_execution(executionArn=ex)


def test_test_state_with_mocks_variables_and_retry_counts(backend):
    def test(state, **kw):
        return backend.test_state(definition=json.dumps(state), input=json.dumps({"k": 1}), **kw)

    wait = {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
            "Parameters": {"QueueUrl": "q", "MessageBody": {"t.$": "$$.Task.Token"}},
            "ResultPath": "$.answer", "End": True}
    r = test(wait, mock={"result": json.dumps({"approved": True})})
    assert (r["status"], json.loads(r["output"])) == ("SUCCEEDED", {"k": 1, "answer": {"approved": True}})
    with pytest.raises(backend.exceptions.ValidationException):
        test(wait, roleArn=ROLE)  # .waitForTaskToken needs a mock, as on AWS

    flaky = dict(wait, Retry=[{"ErrorEquals": ["Boom"], "MaxAttempts": 2}],
                 Catch=[{"ErrorEquals": ["States.ALL"], "Next": "Recover"}])
    del flaky["End"]
    flaky["Next"] = "Done"
    boom = {"errorOutput": {"error": "Boom", "cause": "no"}}
    r = test(flaky, mock=boom, stateConfiguration={"retrierRetryCount": 1})
    assert (r["status"], r["error"]) == ("RETRIABLE", "Boom")
    r = test(flaky, mock=boom, stateConfiguration={"retrierRetryCount": 2})
    assert (r["status"], r["nextState"], r["error"]) == ("CAUGHT_ERROR", "Recover", "Boom")

    mapped = {"Type": "Map", "ItemsPath": "$.items", "ItemProcessor": {
        "StartAt": "I", "States": {"I": {"Type": "Pass", "End": True}}}, "ResultPath": "$.done", "End": True}
    r = test(mapped, mock={"result": "[1, 2]"})
    # The Map's own input processing runs: its items are not there.
    assert (r["status"], r["error"]) == ("FAILED", "States.Runtime")
    r = backend.test_state(definition=json.dumps(mapped), input='{"items": [7, 8]}', mock={"result": "[1, 2]"})
    assert json.loads(r["output"]) == {"items": [7, 8], "done": [1, 2]}
    with pytest.raises(backend.exceptions.ValidationException):
        test(mapped, roleArn=ROLE)

    r = test({"Type": "Pass", "Parameters": {"v.$": "$x"}, "End": True}, roleArn=ROLE,
             variables=json.dumps({"x": 5}))
    assert json.loads(r["output"]) == {"v": 5}


def test_list_executions_pages_continue_after_the_last_execution(backend):
    """ListExecutions pages by position (keyset), not by a count read again:
    every execution once, newest first, even when executions start between
    two pages; a token that is not a ListExecutions token is InvalidToken."""
    arn = create(backend, PASS)["stateMachineArn"]
    names = [f"e{i}" for i in range(7)]
    for n in names:
        wait_for(backend, backend.start_execution(stateMachineArn=arn, name=n)["executionArn"])
    seen, token = [], None
    while True:
        kw = {"nextToken": token} if token else {}
        page = backend.list_executions(stateMachineArn=arn, maxResults=3, **kw)
        assert len(page["executions"]) <= 3
        seen += [e["name"] for e in page["executions"]]
        if len(seen) == 3:
            # One started now is newer than the first page: not listed later.
            wait_for(backend, backend.start_execution(stateMachineArn=arn, name="late")["executionArn"])
        token = page.get("nextToken")
        if not token:
            break
    assert sorted(seen) == sorted(names) and len(seen) == 7
    starts = [e["startDate"] for e in backend.list_executions(stateMachineArn=arn)["executions"]]
    assert starts == sorted(starts, reverse=True)
    failed = backend.list_executions(stateMachineArn=arn, statusFilter="FAILED", maxResults=2)
    assert failed["executions"] == [] and "nextToken" not in failed
    backend.create_state_machine(name=fresh(), roleArn=ROLE, definition=json.dumps(PASS))
    backend.create_state_machine(name=fresh(), roleArn=ROLE, definition=json.dumps(PASS))
    other = backend.list_state_machines(maxResults=1)["nextToken"]
    with pytest.raises(backend.exceptions.InvalidToken):
        backend.list_executions(stateMachineArn=arn, nextToken=other)


def test_an_unknown_action_is_an_unknown_operation_on_both_backends(backend):
    req = urllib.request.Request(backend.meta.endpoint_url, data=b"{}", method="POST", headers={
        "X-Amz-Target": "AWSStepFunctions.Nope", "Content-Type": "application/x-amz-json-1.0"})
    try:
        urllib.request.urlopen(req)
        raise AssertionError("an unknown action was answered")
    except urllib.error.HTTPError as e:
        assert e.code == 400
        assert json.loads(e.read()) == {"__type": "UnknownOperationException",
                                        "message": "The action 'Nope' is not supported"}


@pytest.mark.parametrize("engine", ["memory", "sqlite", "stepper"])
def test_run_fast_forwards_a_day_long_wait_on_every_engine(engine):
    """`stepwise run --backend sqlite` drives the embedded backend's worker
    (the one `serve` uses) on a clock that moves to the next due message
    when nothing else is left: a day's Wait and a retry's back-off end
    at once, and the history is the one GetExecutionHistory would give."""
    day = {"StartAt": "W", "States": {
        "W": {"Type": "Wait", "Seconds": 86400, "Next": "T"},
        "T": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:f",
              "Retry": [{"ErrorEquals": ["Flaky.Boom"], "IntervalSeconds": 3600}], "End": True}}}
    with tempfile.TemporaryDirectory() as tmp:
        path, mocks = os.path.join(tmp, "m.json"), os.path.join(tmp, "mocks.json")
        json.dump(day, open(path, "w"))
        json.dump({"StateMachines": {"M": {"TestCases": {"Happy": {"T": "FailsOnce"}}}},
                   "MockedResponses": MOCKS["MockedResponses"]}, open(mocks, "w"))
        out = subprocess.run([BINARY, "run", path, "--name", "M", "--mock-config", mocks,
                              "--test-case", "Happy", "--fast-forward", "--history",
                              "--states-entered", "--backend", engine], capture_output=True, text=True, timeout=30)
    lines = [json.loads(line) for line in out.stdout.strip().splitlines()]
    events, result = lines[:-1], lines[-1]
    assert result == {"status": "SUCCEEDED", "output": {"y": 2},
                      "states_entered": ["W", "T"]}, out.stderr
    kinds = [e["type"] for e in events]
    assert kinds.count("LambdaFunctionFailed") == 1, kinds
    assert kinds.count("LambdaFunctionSucceeded") == 1, kinds
    assert [e["id"] for e in events] == list(range(1, len(events) + 1))
    at = {}  # the last time of each type, in seconds
    for e in events:
        at[e["type"]] = datetime.datetime.fromisoformat(e["timestamp"].replace("Z", "+00:00")).timestamp()
    assert 86400 <= at["WaitStateExited"] - at["WaitStateEntered"] < 86401
    assert at["LambdaFunctionScheduled"] - at["LambdaFunctionFailed"] >= 3600


def test_a_map_item_near_the_size_limit_runs_on_every_backend(backend):
    """Once, on the serverless backend, a Map item near 256 KiB failed its
    execution: the iteration's first step message (its input, and the item
    in its context) was twice what SQS takes. A message too large for SQS
    is now kept aside in the table while a pointer to it travels."""
    item = [{"line": i, "sku": f"sku-{i:06d}", "qty": i % 7, "ref": uuid.uuid4().hex}
            for i in range(2_800)]  # 250 KB of JSON, as an order's lines might be
    machine = {"StartAt": "M", "States": {"M": {
        "Type": "Map", "ItemsPath": "$.items",
        "ItemProcessor": {"ProcessorConfig": {"Mode": "INLINE"}, "StartAt": "Same", "States": {
            "Same": {"Type": "Pass", "End": True}}},
        "End": True}}}
    arn = create(backend, machine)["stateMachineArn"]
    ex = backend.start_execution(stateMachineArn=arn, input=json.dumps({"items": [item]}))["executionArn"]
    d = wait_for(backend, ex, timeout=60)
    assert d["status"] == "SUCCEEDED", (d.get("error"), d.get("cause"))
    assert json.loads(d["output"]) == [item]


@pytest.mark.parametrize("engine", ["memory", "sqlite", "stepper"])
def test_run_ends_an_execution_nobody_can_answer(engine):
    """`stepwise run` serves no API: an activity task without a timeout can
    never be answered. Once, `--backend sqlite` waited for it for ever, and
    each engine said so in words of its own."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "m.json")
        json.dump({"StartAt": "A", "States": {"A": {
            "Type": "Task", "Resource": "arn:aws:states:us-east-1:123456789012:activity:nobody",
            "End": True}}}, open(path, "w"))
        out = subprocess.run([BINARY, "run", path, "--fast-forward", "--states-entered",
                              "--backend", engine], capture_output=True, text=True, timeout=30)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == {
        "status": "FAILED", "error": "States.Runtime",
        "cause": "The execution has nothing left to do but has not finished: it waits for a "
                 "request from outside (SendTaskSuccess/SendTaskFailure, an activity worker), "
                 "which `stepwise run` cannot receive; run it under `stepwise serve`, or give "
                 "the state a mock response",
        "states_entered": ["A"]}


COUNTER = {"StartAt": "Init", "States": {
    "Init": {"Type": "Pass", "Result": {"i": 0}, "Next": "Check"},
    "Check": {"Type": "Choice", "Default": "Done", "Choices": [
        {"Variable": "$.i", "NumericLessThanPath": "$$.Execution.Input.n", "Next": "Inc"}]},
    "Inc": {"Type": "Pass", "Parameters": {"i.$": "States.MathAdd($.i, 1)"}, "Next": "Check"},
    "Done": {"Type": "Succeed"}}}


def run_counter(engine, n, *extra):
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "m.json")
        json.dump(COUNTER, open(path, "w"))
        out = subprocess.run([BINARY, "run", path, "--input", json.dumps({"n": n}),
                              "--backend", engine, *extra],
                             capture_output=True, text=True, timeout=120)
    return [json.loads(line) for line in out.stdout.strip().splitlines()]


@pytest.mark.parametrize("engine", ["memory", "sqlite", "stepper"])
def test_a_runaway_loop_fails_at_awss_history_limit_on_every_engine(engine):
    """AWS fails a STANDARD execution whose history would pass 25,000
    events. Only the in-memory runner knew (and only with `--history`): the
    embedded and serverless backends let a runaway loop write history for
    ever. Now every driver ends it as the last event, #25000."""
    *events, result = run_counter(engine, 100_000, "--history")
    assert result["status"] == "FAILED" and result["error"] == "States.Runtime", result
    assert "maximum number of history events (25000)" in result["cause"]
    assert len(events) == 25_000 and events[-1]["id"] == 25_000
    assert events[-1]["type"] == "ExecutionFailed"
    assert events[-1]["executionFailedEventDetails"]["cause"] == result["cause"]
    # Counted whether or not the history is kept; an EXPRESS machine has no limit.
    assert run_counter(engine, 100_000)[-1]["cause"] == result["cause"]
    assert run_counter(engine, 20_000, "--express")[-1] == {"status": "SUCCEEDED", "output": {"i": 20_000}}


@pytest.mark.parametrize("engine", ["memory", "sqlite", "stepper"])
def test_an_activity_task_is_mocked_or_waits_for_a_worker_on_every_engine(engine):
    """One rule for every driver (`tasks::offers_activity`): an activity
    state a mock answers is answered by it (the embedded backend once
    offered it to workers all the same, and it timed out); one no mock
    answers waits for a worker until its timeout (in memory it once failed
    at once with States.TaskFailed, which its Catch did not expect)."""
    machine = {"StartAt": "A", "States": {
        "A": {"Type": "Task", "Resource": "arn:aws:states:us-east-1:123456789012:activity:work",
              "TimeoutSeconds": 300, "Catch": [{"ErrorEquals": ["States.Timeout"], "Next": "Late"}],
              "End": True},
        "Late": {"Type": "Pass", "Result": "timed out", "End": True}}}
    mocks = {"StateMachines": {"M": {"TestCases": {"Done": {"A": "R"}}}},
             "MockedResponses": {"R": {"0": {"Return": {"ok": 1}}}}}
    with tempfile.TemporaryDirectory() as tmp:
        path, config = os.path.join(tmp, "m.json"), os.path.join(tmp, "mocks.json")
        json.dump(machine, open(path, "w"))
        json.dump(mocks, open(config, "w"))

        def run(*extra):
            out = subprocess.run([BINARY, "run", path, "--name", "M", "--fast-forward",
                                  "--backend", engine, *extra], capture_output=True, text=True, timeout=30)
            return json.loads(out.stdout.strip().splitlines()[-1])

        assert run("--mock-config", config, "--test-case", "Done")["output"] == {"ok": 1}
        assert run()["output"] == "timed out"


def activity_machine(sfn, states, start):
    activity = sfn.create_activity(name=fresh("act"))["activityArn"]
    text = json.dumps({"StartAt": start, "States": states}).replace("ACTIVITY", activity)
    arn = sfn.create_state_machine(name=fresh(), roleArn=ROLE, definition=text)["stateMachineArn"]
    return activity, arn


def test_a_cancelled_branchs_token_is_answered_too_late_on_both_backends(backend):
    """AWS: TaskTimedOut, 'the task associated with the token has already
    been closed'. The embedded backend deleted a cancelled branch's tokens
    and answered TaskDoesNotExist; the serverless one said TaskTimedOut."""
    activity, arn = activity_machine(backend, {"P": {"Type": "Parallel", "End": True, "Branches": [
        {"StartAt": "Work", "States": {"Work": {"Type": "Task", "Resource": "ACTIVITY", "End": True}}},
        {"StartAt": "Later", "States": {
            "Later": {"Type": "Wait", "Seconds": 2, "Next": "Boom"},
            "Boom": {"Type": "Fail", "Error": "Boom"}}}]}}, "P")
    ex = backend.start_execution(stateMachineArn=arn, input='{"job": 1}')["executionArn"]
    task = backend.get_activity_task(activityArn=activity)
    assert json.loads(task["input"]) == {"job": 1}
    assert wait_for(backend, ex, timeout=30)["status"] == "FAILED"
    with pytest.raises(backend.exceptions.TaskTimedOut):
        backend.send_task_success(taskToken=task["taskToken"], output="{}")
    with pytest.raises(backend.exceptions.TaskTimedOut):
        backend.send_task_heartbeat(taskToken=task["taskToken"])
    with pytest.raises(backend.exceptions.TaskTimedOut):
        backend.send_task_failure(taskToken=task["taskToken"], error="Late")


def test_a_worker_gets_only_tasks_whose_state_still_waits_on_both_backends(backend):
    """The embedded backend handed a worker the oldest task of an activity
    even when its state had timed out and moved on to the next task; the
    worker's answer then came too late. The serverless backend skipped it."""
    activity, arn = activity_machine(backend, {
        "First": {"Type": "Task", "Resource": "ACTIVITY", "Parameters": {"n": 1}, "TimeoutSeconds": 1,
                  "Catch": [{"ErrorEquals": ["States.Timeout"], "Next": "Second"}], "End": True},
        "Second": {"Type": "Task", "Resource": "ACTIVITY", "Parameters": {"n": 2}, "End": True}}, "First")
    ex = backend.start_execution(stateMachineArn=arn)["executionArn"]
    deadline = time.time() + 30
    while time.time() < deadline:
        events = backend.get_execution_history(executionArn=ex)["events"]
        if sum(e["type"] == "ActivityScheduled" for e in events) == 2:
            break
        time.sleep(0.1)
    task = backend.get_activity_task(activityArn=activity)
    assert json.loads(task["input"]) == {"n": 2}
    backend.send_task_success(taskToken=task["taskToken"], output='{"done": true}')
    d = wait_for(backend, ex, timeout=30)
    assert d["status"] == "SUCCEEDED" and json.loads(d["output"]) == {"done": True}


def test_send_task_success_checks_its_output_alike_on_both_backends(backend):
    """One SendTaskSuccess for both backends (`callbacks::answer`): output
    over AWS's 262,144 is a ValidationException before anything else (the
    serverless backend accepted it), output that is not JSON is
    InvalidOutput in the same words, whatever the token."""
    token = "ab" * 24
    with pytest.raises(backend.exceptions.ClientError) as big:
        backend.send_task_success(taskToken=token, output="1" * 262_145)
    assert big.value.response["Error"]["Code"] == "ValidationException"
    assert "Member must have length less than or equal to 262144" in big.value.response["Error"]["Message"]
    with pytest.raises(backend.exceptions.InvalidOutput) as bad:
        backend.send_task_success(taskToken=token, output="{not json")
    assert bad.value.response["Error"]["Message"].startswith("Invalid Output: the output is not JSON")
    with pytest.raises(backend.exceptions.TaskDoesNotExist):
        backend.send_task_success(taskToken=token, output="{}")
    with pytest.raises(backend.exceptions.InvalidToken):
        backend.send_task_failure(taskToken="not-ours", error="E")


def test_an_execution_that_filled_its_history_cannot_be_redriven():
    """AWS: a redrive would pass the 25,000 events again, so such an
    execution is NOT_REDRIVABLE ('Execution history event limit exceeded').
    The rule is the engine's (`executions::redrive_refusal`) for both
    backends; here on the embedded one, where 25,000 events take a second
    (on moto they would take minutes)."""
    s = Server(["--in-memory"]).start()
    try:
        sfn = client(s.url)
        arn = sfn.create_state_machine(name=fresh(), roleArn=ROLE,
                                       definition=json.dumps(COUNTER))["stateMachineArn"]
        ex = sfn.start_execution(stateMachineArn=arn, input='{"n": 100000}')["executionArn"]
        d = wait_for(sfn, ex, timeout=60)
        assert d["status"] == "FAILED" and "(25000)" in d["cause"]
        assert d["redriveStatus"] == "NOT_REDRIVABLE"
        assert d["redriveStatusReason"] == "Execution history event limit exceeded"
        with pytest.raises(sfn.exceptions.ExecutionNotRedrivable):
            sfn.redrive_execution(executionArn=ex)
        page = sfn.get_execution_history(executionArn=ex, reverseOrder=True, maxResults=1)
        assert page["events"][0]["id"] == 25_000 and page["events"][0]["type"] == "ExecutionFailed"
    finally:
        s.stop()


class Listener(http.server.ThreadingHTTPServer):
    request_queue_size = 64  # many calls at once, none left to retry a connect


class SlowLambda(http.server.BaseHTTPRequestHandler):
    """Lambda's Invoke API, answering after two seconds."""

    calls = []  # (start, end) of each call, in the order they ended

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        began = time.monotonic()
        time.sleep(2)
        SlowLambda.calls.append((began, time.monotonic()))
        data = b'{"late": true}'
        try:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except OSError:
            pass  # the caller gave up

    def log_message(self, *args):
        pass


SLOW = "arn:aws:lambda:us-east-1:123456789012:function:slow"


def slow_map(**extra):
    """A Map whose every item calls the slow Lambda."""
    return dict(extra, StartAt="M", States={"M": {
        "Type": "Map", "ItemsPath": "$.items", "End": True,
        "ItemProcessor": {"StartAt": "T", "States": {"T": {
            "Type": "Task", "Resource": SLOW, "TimeoutSeconds": 3, "End": True}}}}})


def run_with_slow_lambda(engine, machine, input=None, *extra):
    """`stepwise run` of `machine` on `engine`, Lambda tasks answered by
    SlowLambda: the result line, and the calls' (start, end)."""
    httpd = Listener(("127.0.0.1", 0), SlowLambda)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    SlowLambda.calls = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "m.json")
            json.dump(machine, open(path, "w"))
            out = subprocess.run([BINARY, "run", path, "--backend", engine, *extra,
                                  "--input", json.dumps(input or {}), "--lambda-endpoint",
                                  f"http://127.0.0.1:{httpd.server_address[1]}"],
                                 capture_output=True, text=True, timeout=90)
    finally:
        httpd.shutdown()
    assert out.stdout.strip(), out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1]), SlowLambda.calls


@pytest.mark.parametrize("engine", ["memory", "sqlite", "stepper"])
@pytest.mark.parametrize("clock", ["--fast-forward", "--no-fast-forward"])
def test_a_machine_timeout_that_passes_during_a_task_times_the_execution_out(engine, clock):
    """A Lambda that answers after 2 s, in a machine with TimeoutSeconds 1:
    TIMED_OUT on AWS and on the embedded backend; in memory (`stepwise
    run`, StartSyncExecution) and through the stepper the call took no time
    on the execution's clock, and the execution SUCCEEDED."""
    machine = {"TimeoutSeconds": 1, "StartAt": "T", "States": {"T": {
        "Type": "Task", "Resource": SLOW, "End": True}}}
    extra = [clock] if clock == "--fast-forward" else []
    result, _ = run_with_slow_lambda(engine, machine, None, *extra)
    assert result == {"status": "TIMED_OUT", "error": "States.Timeout", "cause": None}


def test_a_map_of_slow_lambdas_runs_them_together_on_the_embedded_backend():
    """Twelve 2-second Lambda calls of a Map, each with TimeoutSeconds 3,
    through `serve`: on AWS they run together and all succeed. The embedded
    backend ran four calls at a time, and a call's timeout counted the time
    it waited for a dispatcher: the third round timed out."""
    httpd = Listener(("127.0.0.1", 0), SlowLambda)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    endpoint = f"http://127.0.0.1:{httpd.server_address[1]}"
    s = Server(["--in-memory", "--lambda-endpoint", endpoint]).start()
    try:
        sfn = client(s.url)
        arn = create(sfn, slow_map())["stateMachineArn"]
        ex = sfn.start_execution(stateMachineArn=arn, input=json.dumps({"items": list(range(12))}))
        d = wait_for(sfn, ex["executionArn"], timeout=60)
        assert d["status"] == "SUCCEEDED", (d.get("error"), d.get("cause"))
        assert json.loads(d["output"]) == [{"late": True}] * 12
    finally:
        s.stop()
        httpd.shutdown()


@pytest.mark.parametrize("engine", ["memory", "sqlite", "stepper"])
def test_a_maps_lambdas_count_as_made_side_by_side_against_the_machine_timeout(engine):
    """Five 2-second Lambdas of a Map in a machine with TimeoutSeconds 5:
    AWS runs them side by side and the execution succeeds. `stepwise run`
    in memory makes the calls one after another; each answer is placed as
    long after its call as it took, not after all the calls before it
    (10 seconds: TIMED_OUT)."""
    result, _ = run_with_slow_lambda(engine, slow_map(TimeoutSeconds=5), {"items": list(range(5))})
    assert result == {"status": "SUCCEEDED", "output": [{"late": True}] * 5}


@pytest.mark.parametrize("engine", ["sqlite", "stepper"])
def test_a_maps_lambda_calls_are_made_side_by_side(engine):
    """The embedded backend made four calls at a time (its dispatchers),
    the stepper one after another (a bundle's children in turn, each
    blocking its thread): a Map of five 2-second Lambdas took 4 and 10
    seconds where AWS takes 2. Now every call is out before any answers."""
    result, calls = run_with_slow_lambda(engine, slow_map(), {"items": list(range(5))})
    assert result["status"] == "SUCCEEDED"
    assert len(calls) == 5
    assert max(start for start, _ in calls) < min(end for _, end in calls), calls


@pytest.mark.parametrize("engine", ["memory", "sqlite", "stepper"])
def test_a_distributed_map_without_max_concurrency_runs_its_children_together(engine):
    """AWS runs up to 10,000 child executions of a distributed Map at once
    when it names no MaxConcurrency. The stepper ran 40 (the inline Map's
    limit), so 100 one-second children took three seconds of the
    execution's clock, not one."""
    machine = {"StartAt": "M", "States": {"M": {
        "Type": "Map", "ItemsPath": "$.items", "End": True,
        "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                          "StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 1, "End": True}}}}}}
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "m.json")
        json.dump(machine, open(path, "w"))
        out = subprocess.run([BINARY, "run", path, "--backend", engine, "--fast-forward", "--history",
                              "--input", json.dumps({"items": list(range(100))})],
                             capture_output=True, text=True, timeout=120)
    *events, result = [json.loads(line) for line in out.stdout.strip().splitlines()]
    assert result["status"] == "SUCCEEDED", out.stderr
    at = {e["type"]: datetime.datetime.fromisoformat(e["timestamp"].replace("Z", "+00:00")) for e in events}
    took = (at["MapStateExited"] - at["MapStateEntered"]).total_seconds()
    assert 1.0 <= took < 2.0, took



@pytest.mark.parametrize("engine", ["memory", "sqlite", "stepper"])
def test_heartbeat_seconds_does_not_time_out_a_request_response_task(engine):
    """A Lambda that answers after 2 s, under HeartbeatSeconds 1: a
    request-response call has no token to send heartbeats with, and AWS keeps
    a heartbeat clock only for activities, callbacks and `.sync` jobs. The
    embedded backend and `stepwise run` once failed it with
    States.HeartbeatTimeout; the stepper, which calls it inline, did not."""
    machine = {"StartAt": "T", "States": {"T": {
        "Type": "Task", "Resource": SLOW, "TimeoutSeconds": 5, "HeartbeatSeconds": 1,
        "End": True}}}
    result, _ = run_with_slow_lambda(engine, machine, {"n": 1})
    assert result == {"status": "SUCCEEDED", "output": {"late": True}}


@pytest.mark.parametrize("engine", ["memory", "sqlite", "stepper"])
def test_an_inline_map_without_max_concurrency_runs_forty_iterations_at_a_time(engine):
    """AWS runs at most 40 inline Map iterations at once: a Map of 100
    one-second Waits enters its Pass states in three waves (40, 40, 20), a
    second apart. `stepwise run` and the embedded backend once ran all 100
    at once (one wave) while the stepper ran 40."""
    machine = {"StartAt": "M", "States": {"M": {
        "Type": "Map", "ItemsPath": "$.items", "End": True,
        "ItemProcessor": {"StartAt": "W", "States": {
            "W": {"Type": "Wait", "Seconds": 1, "Next": "P"},
            "P": {"Type": "Pass", "Parameters": {"at.$": "$$.State.EnteredTime"}, "End": True}}}}}}
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "m.json")
        json.dump(machine, open(path, "w"))
        out = subprocess.run([BINARY, "run", path, "--fast-forward", "--backend", engine,
                              "--input", json.dumps({"items": list(range(100))})],
                             capture_output=True, text=True, timeout=60)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["status"] == "SUCCEEDED", out.stderr
    seconds = [datetime.datetime.fromisoformat(o["at"].replace("Z", "+00:00")).timestamp()
               for o in result["output"]]
    first = min(seconds)
    waves = collections.Counter(int(s - first + 0.5) for s in seconds)
    assert sorted(waves.items()) == [(0, 40), (1, 40), (2, 20)]


def test_a_distributed_map_child_sees_its_own_execution_in_the_context_object(backend):
    """A Distributed Map's child is an execution of its own: `$$.Execution`
    names it (its ARN, as ListExecutions(mapRunArn) lists it, its name, its
    input, the item) and `$$.StateMachine` the Map Run's labelled machine.
    Every backend once gave the parent's, so a Lambda keyed on
    `$$.Execution.Id` saw one id for every child."""
    context = {"id.$": "$$.Execution.Id", "name.$": "$$.Execution.Name",
               "input.$": "$$.Execution.Input", "machine.$": "$$.StateMachine.Id",
               "machineName.$": "$$.StateMachine.Name"}
    definition = {"StartAt": "M", "States": {"M": {
        "Type": "Map", "ItemsPath": "$.items", "Label": "Each", "End": True,
        "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                          "StartAt": "P", "States": {"P": {"Type": "Pass", "Parameters": context,
                                                           "End": True}}}}}}
    machine = create(backend, definition)["stateMachineArn"]
    ex = backend.start_execution(stateMachineArn=machine, input='{"items": [{"k": 1}, {"k": 2}]}')
    done = wait_for(backend, ex["executionArn"])
    assert done["status"] == "SUCCEEDED"
    seen = json.loads(done["output"])
    run = backend.list_map_runs(executionArn=ex["executionArn"])["mapRuns"][0]["mapRunArn"]
    children = backend.list_executions(mapRunArn=run)["executions"]
    labelled = machine + "/Each"
    assert sorted(c["executionArn"] for c in children) == sorted(s["id"] for s in seen)
    assert [s["input"] for s in seen] == [{"k": 1}, {"k": 2}]
    for s in seen:
        assert s["name"] == s["id"].rsplit(":", 1)[1]
        assert (s["machine"], s["machineName"]) == (labelled, labelled.split(":stateMachine:")[1])


def test_describe_execution_answers_the_input_as_it_was_written(backend):
    """DescribeExecution gives back the input text StartExecution was given,
    spacing and all, on both backends (the serverless one once answered it
    re-printed)."""
    arn = create(backend, PASS)["stateMachineArn"]
    written = '{"n":  5,\n "b": [1, 2]}'
    ex = backend.start_execution(stateMachineArn=arn, input=written)["executionArn"]
    assert wait_for(backend, ex)["status"] == "SUCCEEDED"
    assert backend.describe_execution(executionArn=ex)["input"] == written


def test_an_express_executions_arn_is_refused_where_aws_keeps_no_record(backend):
    """AWS keeps no record of an EXPRESS execution started by StartExecution:
    DescribeExecution, DescribeStateMachineForExecution, GetExecutionHistory
    and StopExecution refuse its ARN as AWS does (recorded on AWS). The
    embedded backend answered with the whole history, the serverless one
    with ExecutionStarted alone."""
    arn = create(backend, PASS, type="EXPRESS")["stateMachineArn"]
    ex = backend.start_execution(stateMachineArn=arn, input="{}")["executionArn"]
    assert ex.split(":")[5] == "express"
    for call in (backend.describe_execution, backend.describe_state_machine_for_execution,
                 backend.get_execution_history, backend.stop_execution):
        with pytest.raises(ClientError) as e:
            call(executionArn=ex)
        assert e.value.response["Error"] == {
            "Code": "InvalidArn",
            "Message": "Invalid Arn: 'Resource type not valid in this context: express'"}, call
    # A state machine's ARN where an execution's is wanted, likewise.
    with pytest.raises(ClientError) as e:
        backend.describe_execution(executionArn=arn)
    assert e.value.response["Error"]["Message"] == (
        "Invalid Arn: 'Resource type not valid in this context: stateMachine'")


def test_a_redrive_starts_the_machines_timeout_again(backend):
    """AWS: "When you redrive an execution, the state machine level timeout,
    if defined, is reset to 0." A machine of TimeoutSeconds 4 fails at once,
    is redriven 2.5 s later and then waits 10 s: it times out 4 s after the
    redrive, not 4 s after its start (the stepper's first timer did that)
    and not never (the embedded backend set no timer for a redrive)."""
    # Fails on the first attempt only: item -1 of a one-item array.
    first_only = "States.ArrayGetItem(States.Array(1), States.MathAdd($$.Execution.RedriveCount, -1))"
    machine = {"TimeoutSeconds": 4, "StartAt": "Flaky", "States": {
        "Flaky": {"Type": "Pass", "Parameters": {"v.$": first_only}, "Next": "Long"},
        "Long": {"Type": "Wait", "Seconds": 10, "End": True}}}
    arn = create(backend, machine)["stateMachineArn"]
    ex = backend.start_execution(stateMachineArn=arn)["executionArn"]
    assert wait_for(backend, ex)["status"] == "FAILED"
    time.sleep(2.5)
    redriven = backend.redrive_execution(executionArn=ex)["redriveDate"]
    time.sleep(2.5)  # past the first attempt's deadline
    assert backend.describe_execution(executionArn=ex)["status"] == "RUNNING"
    d = wait_for(backend, ex, timeout=15)
    assert (d["status"], d["error"]) == ("TIMED_OUT", "States.Timeout")
    assert 3.5 <= (d["stopDate"] - redriven).total_seconds() < 6
