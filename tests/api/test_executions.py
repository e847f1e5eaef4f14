"""Executions: start, describe, list, history, stop, redrive, sync, callbacks, restarts."""
import json
import threading
import time

import boto3
import pytest
from botocore.exceptions import ClientError

from conftest import BACKENDS, ROLE, Server, client, durable, wait_for

CHAIN = json.dumps({"StartAt": "P", "States": {
    "P": {"Type": "Pass", "Next": "C"},
    "C": {"Type": "Choice", "Choices": [{"Variable": "$.n", "NumericGreaterThan": 0, "Next": "W"}], "Default": "F"},
    "W": {"Type": "Wait", "Seconds": 0, "Next": "S"},
    "S": {"Type": "Succeed"},
    "F": {"Type": "Fail", "Error": "NotPositive", "Cause": "n must be > 0"},
}})
SLOW = json.dumps({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 100, "End": True}}})


def code(excinfo):
    return excinfo.value.response["Error"]["Code"]


def machine(sfn, name, definition=CHAIN, **kw):
    return sfn.create_state_machine(name=name, definition=definition, roleArn=ROLE, **kw)["stateMachineArn"]


def test_runs_to_success_and_failure(sfn):
    m = machine(sfn, "chain")
    ok = sfn.start_execution(stateMachineArn=m, name="ok", input='{"n": 1}')["executionArn"]
    bad = sfn.start_execution(stateMachineArn=m, name="bad", input='{"n": 0}')["executionArn"]
    d = wait_for(sfn, ok)
    assert (d["status"], json.loads(d["output"])) == ("SUCCEEDED", {"n": 1})
    d = wait_for(sfn, bad)
    assert (d["status"], d["error"], d["cause"]) == ("FAILED", "NotPositive", "n must be > 0")


def test_a_runtime_error_beside_a_running_branch_ends_the_history_and_names_its_event(sfn):
    """A runtime error in one branch ends the execution at once. On the
    serverless backend the sibling branch, not yet stopped, recorded its
    next states after ExecutionFailed, and the cause quoted the failing
    state's Entered event by its branch's own count (#6 for event 9)."""
    chain = {f"A{i}": {"Type": "Pass", "Next": f"A{i + 1}"} for i in range(1, 4)}
    chain["A4"] = {"Type": "Pass", "End": True}
    definition = {"StartAt": "P", "States": {"P": {"Type": "Parallel", "End": True, "Branches": [
        {"StartAt": "A1", "States": chain},
        {"StartAt": "B1", "States": {"B1": {"Type": "Pass", "Next": "B2"},
                                     "B2": {"Type": "Pass", "InputPath": "$.nope", "End": True}}}]}}}
    m = machine(sfn, "runtime-beside", json.dumps(definition))
    arn = sfn.start_execution(stateMachineArn=m)["executionArn"]
    d = wait_for(sfn, arn)
    events = sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
    assert events[-1]["type"] == "ExecutionFailed", [e["type"] for e in events]
    b2 = next(e for e in events if e.get("stateEnteredEventDetails", {}).get("name") == "B2")
    cause = events[-1]["executionFailedEventDetails"]["cause"]
    assert cause.startswith(f"An error occurred while executing the state 'B2' (entered at the event id #{b2['id']}). ")
    assert events[-1]["previousEventId"] == b2["id"]
    assert (d["status"], d["error"], d["cause"]) == ("FAILED", "States.Runtime", cause)


def test_start_is_idempotent_by_name_and_input(sfn):
    m = machine(sfn, "idem", SLOW)
    a = sfn.start_execution(stateMachineArn=m, name="same", input="{}")
    b = sfn.start_execution(stateMachineArn=m, name="same", input="{}")
    assert a["executionArn"] == b["executionArn"]
    with pytest.raises(ClientError) as e:
        sfn.start_execution(stateMachineArn=m, name="same", input='{"other": 1}')
    assert code(e) == "ExecutionAlreadyExists"


@pytest.mark.parametrize("kwargs,expected", [
    ({"input": "{not json"}, "InvalidExecutionInput"),
    ({"input": json.dumps({"x": "y" * (256 * 1024)})}, "ValidationException"),
    ({"name": "has space"}, "InvalidName"),
])
def test_start_rejects_bad_input(sfn, kwargs, expected):
    m = machine(sfn, "rejects")
    with pytest.raises(ClientError) as e:
        sfn.start_execution(stateMachineArn=m, **kwargs)
    assert code(e) == expected
    assert sfn.list_executions(stateMachineArn=m)["executions"] == []


def test_unknown_machine_and_execution(sfn):
    with pytest.raises(ClientError) as e:
        sfn.start_execution(stateMachineArn="arn:aws:states:us-east-1:123456789012:stateMachine:ghost")
    assert code(e) == "StateMachineDoesNotExist"
    with pytest.raises(ClientError) as e:
        sfn.describe_execution(executionArn="arn:aws:states:us-east-1:123456789012:execution:ghost:x")
    assert code(e) == "ExecutionDoesNotExist"


def test_history_reads_as_aws(sfn):
    m = machine(sfn, "hist")
    ex = sfn.start_execution(stateMachineArn=m, input='{"n": 2}')["executionArn"]
    wait_for(sfn, ex)
    events = sfn.get_execution_history(executionArn=ex)["events"]
    types = [e["type"] for e in events]
    assert types == ["ExecutionStarted", "PassStateEntered", "PassStateExited", "ChoiceStateEntered", "ChoiceStateExited",
                     "WaitStateEntered", "WaitStateExited", "SucceedStateEntered", "SucceedStateExited", "ExecutionSucceeded"]
    assert [e["id"] for e in events] == list(range(1, 11))
    assert events[1]["stateEnteredEventDetails"] == {"name": "P", "input": '{"n":2}', "inputDetails": {"truncated": False}}
    assert json.loads(events[-1]["executionSucceededEventDetails"]["output"]) == {"n": 2}
    rev = sfn.get_execution_history(executionArn=ex, reverseOrder=True, maxResults=3)
    assert [e["id"] for e in rev["events"]] == [10, 9, 8] and "nextToken" in rev
    pages = sfn.get_paginator("get_execution_history").paginate(executionArn=ex, PaginationConfig={"PageSize": 4})
    assert [e["id"] for p in pages for e in p["events"]] == list(range(1, 11))
    no_data = sfn.get_execution_history(executionArn=ex, includeExecutionData=False)["events"]
    assert "input" not in no_data[1]["stateEnteredEventDetails"]


def test_list_executions_filters_and_paginates(sfn):
    m = machine(sfn, "lister")
    for i in range(3):
        wait_for(sfn, sfn.start_execution(stateMachineArn=m, name=f"ok{i}", input='{"n": 1}')["executionArn"])
    wait_for(sfn, sfn.start_execution(stateMachineArn=m, name="bad", input='{"n": -1}')["executionArn"])
    assert {e["name"] for e in sfn.list_executions(stateMachineArn=m, statusFilter="FAILED")["executions"]} == {"bad"}
    page = sfn.list_executions(stateMachineArn=m, maxResults=2)
    assert len(page["executions"]) == 2 and "nextToken" in page
    rest = sfn.list_executions(stateMachineArn=m, maxResults=2, nextToken=page["nextToken"])
    assert len(rest["executions"]) == 2 and "nextToken" not in rest


def test_stop_aborts_a_running_execution(sfn):
    m = machine(sfn, "stopper", SLOW)
    ex = sfn.start_execution(stateMachineArn=m)["executionArn"]
    sfn.stop_execution(executionArn=ex, error="Manual", cause="stopped by test")
    d = wait_for(sfn, ex)
    assert (d["status"], d["error"], d["cause"]) == ("ABORTED", "Manual", "stopped by test")
    assert sfn.get_execution_history(executionArn=ex, reverseOrder=True)["events"][0]["type"] == "ExecutionAborted"


def test_redrive_restarts_the_failed_state(sfn):
    m = machine(sfn, "redrive")
    ex = sfn.start_execution(stateMachineArn=m, input='{"n": 0}')["executionArn"]
    assert wait_for(sfn, ex)["status"] == "FAILED"
    sfn.redrive_execution(executionArn=ex)
    d = wait_for(sfn, ex)
    assert (d["status"], d["redriveCount"]) == ("FAILED", 1)
    ok = sfn.start_execution(stateMachineArn=m, input='{"n": 1}')["executionArn"]
    wait_for(sfn, ok)
    with pytest.raises(ClientError) as e:
        sfn.redrive_execution(executionArn=ok)
    assert code(e) == "ExecutionNotRedrivable"


def test_describe_state_machine_for_execution(sfn):
    m = machine(sfn, "forexec")
    ex = sfn.start_execution(stateMachineArn=m, input='{"n": 1}')["executionArn"]
    d = sfn.describe_state_machine_for_execution(executionArn=ex)
    assert d["stateMachineArn"] == m and json.loads(d["definition"]) == json.loads(CHAIN)


def test_start_sync_execution_for_express_machines(sfn):
    m = machine(sfn, "express", type="EXPRESS")
    out = sfn.start_sync_execution(stateMachineArn=m, input='{"n": 5}')
    assert (out["status"], json.loads(out["output"])) == ("SUCCEEDED", {"n": 5})
    failed = sfn.start_sync_execution(stateMachineArn=m, input='{"n": 0}')
    assert (failed["status"], failed["error"]) == ("FAILED", "NotPositive")
    # AWS says the output is included even when there is none (LocalStack's
    # express tests, recorded on AWS).
    assert "output" not in failed and failed["outputDetails"] == {"included": True}
    std = machine(sfn, "standard")
    with pytest.raises(ClientError) as e:
        sfn.start_sync_execution(stateMachineArn=std)
    assert code(e) == "StateMachineTypeNotSupported"


ACTIVITY = "arn:aws:states:us-east-1:123456789012:activity:work"


def activity_machine(sfn, name, **task):
    state = {"Type": "Task", "Resource": ACTIVITY, "End": True, **task}
    return machine(sfn, name, json.dumps({"StartAt": "T", "States": {"T": state}}))


def test_activity_worker_with_boto3(sfn):
    sfn.create_activity(name="work")
    assert sfn.describe_activity(activityArn=ACTIVITY)["name"] == "work"
    m = activity_machine(sfn, "act")
    ex = sfn.start_execution(stateMachineArn=m, input='{"job": 7}')["executionArn"]
    task = sfn.get_activity_task(activityArn=ACTIVITY, workerName="w1")
    assert json.loads(task["input"]) == {"job": 7}
    sfn.send_task_heartbeat(taskToken=task["taskToken"])
    sfn.send_task_success(taskToken=task["taskToken"], output='{"done": true}')
    assert json.loads(wait_for(sfn, ex)["output"]) == {"done": True}
    with pytest.raises(ClientError) as e:
        sfn.send_task_success(taskToken=task["taskToken"], output="{}")
    assert code(e) == "TaskDoesNotExist"
    with pytest.raises(ClientError) as e:
        sfn.send_task_success(taskToken="forged", output="{}")
    assert code(e) == "InvalidToken"


def test_long_poll_hands_each_task_to_one_worker(sfn):
    sfn.create_activity(name="work")
    m = activity_machine(sfn, "poll")
    got = []

    def worker():
        try:
            t = client_for(sfn).get_activity_task(activityArn=ACTIVITY)
            got.append(t.get("taskToken"))
        except Exception:  # the server stops while the idle poller waits
            pass

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    time.sleep(0.3)
    ex = sfn.start_execution(stateMachineArn=m)["executionArn"]
    deadline = time.time() + 5
    while not got and time.time() < deadline:
        time.sleep(0.02)
    assert len([g for g in got if g]) == 1
    sfn.send_task_failure(taskToken=[g for g in got if g][0], error="Worker.Broke", cause="boom")
    d = wait_for(sfn, ex)
    assert (d["status"], d["error"], d["cause"]) == ("FAILED", "Worker.Broke", "boom")
    sfn.stop_execution(executionArn=ex)  # the other poller times out on its own


def client_for(sfn):
    return client(sfn.meta.endpoint_url)


def test_heartbeat_timeout_fails_the_task(sfn):
    sfn.create_activity(name="work")
    m = activity_machine(sfn, "hb", HeartbeatSeconds=1, TimeoutSeconds=30)
    ex = sfn.start_execution(stateMachineArn=m)["executionArn"]
    task = sfn.get_activity_task(activityArn=ACTIVITY)
    d = wait_for(sfn, ex, timeout=5)
    # AWS reports a missed heartbeat as States.Timeout (its recorded histories).
    assert (d["status"], d["error"]) == ("FAILED", "States.Timeout")
    with pytest.raises(ClientError) as e:
        sfn.send_task_success(taskToken=task["taskToken"], output="{}")
    assert code(e) in ("TaskTimedOut", "TaskDoesNotExist")


def test_unknown_action_and_malformed_json():
    import urllib.request
    s = Server(["--in-memory"]).start()
    try:
        def post(target, body):
            req = urllib.request.Request(s.url + "/", data=body, method="POST",
                                         headers={"X-Amz-Target": target, "Content-Type": "application/x-amz-json-1.0"})
            try:
                with urllib.request.urlopen(req) as r:
                    return r.status, json.loads(r.read())
            except urllib.error.HTTPError as e:
                return e.code, json.loads(e.read())
        assert post("AWSStepFunctions.Nope", b"{}") == (400, {"__type": "UnknownOperationException", "message": "The action 'Nope' is not supported"})
        status, body = post("AWSStepFunctions.ListStateMachines", b"{oops")
        assert (status, body["__type"]) == (400, "SerializationException")
    finally:
        s.stop()


@pytest.mark.parametrize("backend", BACKENDS)
def test_kill_9_loses_no_execution(tmp_path, backend, request):
    """kill -9 of the server with executions in a Wait: a restarted server
    finishes each once, from SQLite or (aws) from the table and the queue."""
    args, env, name = durable(backend, request.getfixturevalue("moto"), tmp_path, "kill9")
    if name:
        # Messages the killed process had received come back when their
        # visibility timeout runs out: 2 s here, so the test need not wait
        # SQS's default 30 s (`--create-resources` keeps an existing queue).
        boto3.client("sqs", endpoint_url=env["AWS_ENDPOINT_URL"], region_name="us-east-1",
                     aws_access_key_id="test", aws_secret_access_key="test").create_queue(
            QueueName=name, Attributes={"VisibilityTimeout": "2"})
    s = Server(args, env=env).start()
    sfn = client(s.url)
    m = machine(sfn, "durable", json.dumps({"StartAt": "W", "States": {
        "W": {"Type": "Wait", "Seconds": 1, "Next": "P"}, "P": {"Type": "Pass", "Result": "done", "End": True}}}))
    arns = [sfn.start_execution(stateMachineArn=m, name=f"e{i}")["executionArn"] for i in range(20)]
    branches = machine(sfn, "branches", BRANCHES)
    split = sfn.start_execution(stateMachineArn=branches, name="split")["executionArn"]
    wait_until_entered(sfn, split, 2)
    s.kill()
    s2 = Server(args, env=env).start()
    try:
        sfn2 = client(s2.url)
        for arn in arns:
            d = wait_for(sfn2, arn, timeout=75)
            assert (d["status"], d["output"]) == ("SUCCEEDED", '"done"'), arn
            types = [e["type"] for e in sfn2.get_execution_history(executionArn=arn)["events"]]
            assert types == ["ExecutionStarted", "WaitStateEntered", "WaitStateExited", "PassStateEntered", "PassStateExited", "ExecutionSucceeded"]
        # A history numbered across the restart as without one: each
        # branch's WaitStateExited follows its own WaitStateEntered.
        assert wait_for(sfn2, split, timeout=75)["status"] == "SUCCEEDED"
        whole = sfn2.start_execution(stateMachineArn=branches, name="whole")["executionArn"]
        assert wait_for(sfn2, whole)["status"] == "SUCCEEDED"
        assert numbered(sfn2, split) == numbered(sfn2, whole)
        entered = {e["id"] for e in sfn2.get_execution_history(executionArn=split)["events"]
                   if e["type"] == "WaitStateEntered"}
        exited = {e["previousEventId"] for e in sfn2.get_execution_history(executionArn=split)["events"]
                  if e["type"] == "WaitStateExited"}
        assert exited == entered and len(entered) == 2
    finally:
        s2.stop()


BRANCHES = json.dumps({"StartAt": "Both", "States": {"Both": {"Type": "Parallel", "End": True, "Branches": [
    {"StartAt": "A", "States": {"A": {"Type": "Wait", "Seconds": 2, "End": True}}},
    {"StartAt": "B", "States": {"B": {"Type": "Wait", "Seconds": 2, "End": True}}}]}}})


def wait_until_entered(sfn, arn, count, timeout=10):
    """Until the history holds `count` WaitStateEntered events."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        events = sfn.get_execution_history(executionArn=arn)["events"]
        if sum(e["type"] == "WaitStateEntered" for e in events) >= count:
            return
        time.sleep(0.05)
    raise AssertionError(f"{arn} did not enter {count} waits")


def numbered(sfn, arn):
    """The history's (type, id, previousEventId), in id order."""
    events = sfn.get_execution_history(executionArn=arn)["events"]
    return sorted((e["type"], e["id"], e["previousEventId"]) for e in events)


def test_a_clean_stop_leaves_no_write_ahead_log(tmp_path):
    s = Server(["--data", str(tmp_path)]).start()
    sfn = client(s.url)
    m = machine(sfn, "walled", json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}))
    arns = [sfn.start_execution(stateMachineArn=m)["executionArn"] for _ in range(100)]
    wal = tmp_path / "stepwise.db-wal"
    assert wal.exists() and wal.stat().st_size > 0
    s.stop()  # SIGTERM
    assert not wal.exists() or wal.stat().st_size == 0
    s2 = Server(["--data", str(tmp_path)]).start()
    try:
        assert wait_for(client(s2.url), arns[-1])["status"] == "SUCCEEDED"
    finally:
        s2.stop()
