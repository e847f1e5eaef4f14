"""`stepwise run` on every engine — in memory, and through the serverless
stepper on SQLite (`--backend sqlite`, what `serve` runs) — with the same
machine and the same assertions: what one engine does, all do."""
import collections
import datetime
import http.server
import json
import os
import re
import subprocess
import tempfile
import threading
import time

import pytest

from conftest import BINARY, ROLE, Server, client, wait_for
from test_one_engine import MOCKS, create, fresh

@pytest.mark.parametrize("engine", ["memory", "sqlite"])
def test_run_fast_forwards_a_day_long_wait_on_every_engine(engine):
    """`stepwise run --backend sqlite` drives the stepper on SQLite (what
    `serve` uses) on a clock that moves to the next due message
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


@pytest.mark.parametrize("engine", ["memory", "sqlite"])
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


@pytest.mark.parametrize("engine", ["memory", "sqlite"])
def test_run_names_its_execution_with_a_uuid_on_every_engine(engine):
    """AWS names an execution started without a name with a UUID, and so
    did `run --backend sqlite`; in memory and on the stepper, `run` named
    it `run-<hex clock>-<pid>`, which `$$.Execution.Name` and every cause
    quoting the context showed."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "m.json")
        json.dump({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True, "Parameters": {
            "name.$": "$$.Execution.Name", "id.$": "$$.Execution.Id"}}}}, open(path, "w"))
        out = subprocess.run([BINARY, "run", path, "--backend", engine],
                             capture_output=True, text=True, timeout=30)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    name = result["output"]["name"]
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", name), name
    assert result["output"]["id"].endswith(":execution:m:" + name), result


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


@pytest.mark.parametrize("engine", ["memory", "sqlite"])
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


@pytest.mark.parametrize("engine", ["memory", "sqlite"])
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


@pytest.mark.parametrize("engine", ["memory", "sqlite"])
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


@pytest.mark.parametrize("engine", ["memory", "sqlite"])
def test_a_maps_lambdas_count_as_made_side_by_side_against_the_machine_timeout(engine):
    """Five 2-second Lambdas of a Map in a machine with TimeoutSeconds 5:
    AWS runs them side by side and the execution succeeds. `stepwise run`
    in memory makes the calls one after another; each answer is placed as
    long after its call as it took, not after all the calls before it
    (10 seconds: TIMED_OUT)."""
    result, _ = run_with_slow_lambda(engine, slow_map(TimeoutSeconds=5), {"items": list(range(5))})
    assert result == {"status": "SUCCEEDED", "output": [{"late": True}] * 5}


@pytest.mark.parametrize("engine", ["sqlite"])
def test_a_maps_lambda_calls_are_made_side_by_side(engine):
    """The embedded backend made four calls at a time (its dispatchers),
    the stepper one after another (a bundle's children in turn, each
    blocking its thread): a Map of five 2-second Lambdas took 4 and 10
    seconds where AWS takes 2. Now every call is out before any answers."""
    result, calls = run_with_slow_lambda(engine, slow_map(), {"items": list(range(5))})
    assert result["status"] == "SUCCEEDED"
    assert len(calls) == 5
    assert max(start for start, _ in calls) < min(end for _, end in calls), calls


@pytest.mark.parametrize("engine", ["memory", "sqlite"])
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



@pytest.mark.parametrize("engine", ["memory", "sqlite"])
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


@pytest.mark.parametrize("engine", ["memory", "sqlite"])
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


@pytest.mark.parametrize("engine", ["memory", "sqlite"])
def test_the_sibling_of_a_failed_branch_takes_no_step_after_the_execution_ends(engine):
    """A Parallel fails with its first failed branch, and its other branches
    stop. Through the stepper, the sibling's next steps, already on their way
    in the queue, still ran after its parent had given up on it: its later
    states were entered (their tasks called) after ExecutionFailed. Now a
    transition stops its children at once, and their queued steps find
    themselves stale. (The run's role was also another on the embedded
    backend's worker.)"""
    chain = {f"B{i}": {"Type": "Pass", "Next": f"B{i + 1}"} for i in range(1, 6)}
    chain["B6"] = {"Type": "Pass", "End": True}
    machine = {"StartAt": "P", "States": {"P": {"Type": "Parallel", "End": True, "Branches": [
        {"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "Broke", "Cause": "here"}}},
        {"StartAt": "B1", "States": chain}]}}}
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "m.json")
        json.dump(machine, open(path, "w"))
        out = subprocess.run([BINARY, "run", path, "--fast-forward", "--history", "--states-entered",
                              "--backend", engine], capture_output=True, text=True, timeout=60)
    *events, result = [json.loads(line) for line in out.stdout.strip().splitlines()]
    assert (result["status"], result["error"]) == ("FAILED", "Broke"), out.stderr
    assert events[-1]["type"] == "ExecutionFailed", [e["type"] for e in events]
    entered = [e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e]
    # The sibling's first step may run beside the failure; none after it.
    assert set(entered) <= {"P", "F", "B1"}, entered
    assert result["states_entered"] == entered
    assert events[0]["executionStartedEventDetails"]["roleArn"].endswith(":role/stepwise-local")


@pytest.mark.parametrize("engine", ["memory", "sqlite"])
def test_run_calls_sqs_sns_and_dynamodb_tasks_on_every_engine(engine, moto):
    """`stepwise run` in memory (its default) drove the task chain on a bare
    executor: the first SQS, SNS, EventBridge or DynamoDB task panicked
    ('there is no reactor running') and the process died."""
    import boto3
    from conftest import AWS
    env = dict(os.environ, AWS_ENDPOINT_URL=moto, **AWS)
    kw = dict(endpoint_url=moto, region_name="us-east-1", aws_access_key_id="test",
              aws_secret_access_key="test")
    sqs, sns, ddb = boto3.client("sqs", **kw), boto3.client("sns", **kw), boto3.client("dynamodb", **kw)
    name = f"run-{engine}-{time.time_ns()}"
    queue = sqs.create_queue(QueueName=name)["QueueUrl"]
    topic = sns.create_topic(Name=name)["TopicArn"]
    ddb.create_table(TableName=name, KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                     BillingMode="PAY_PER_REQUEST")
    machine = {"StartAt": "Send", "States": {
        "Send": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage",
                 "Parameters": {"QueueUrl": queue, "MessageBody.$": "$.body"},
                 "ResultSelector": {"id.$": "$.MessageId"}, "ResultPath": "$.sent", "Next": "Publish"},
        "Publish": {"Type": "Task", "Resource": "arn:aws:states:::sns:publish",
                    "Parameters": {"TopicArn": topic, "Message.$": "$.body"},
                    "ResultSelector": {"id.$": "$.MessageId"}, "ResultPath": "$.published", "Next": "Put"},
        "Put": {"Type": "Task", "Resource": "arn:aws:states:::dynamodb:putItem",
                "Parameters": {"TableName": name, "Item": {"id": {"S.$": "$.body"}}},
                "ResultPath": None, "End": True}}}
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "m.json")
        json.dump(machine, open(path, "w"))
        out = subprocess.run([BINARY, "run", path, "--input", '{"body": "hello"}', "--backend", engine],
                             capture_output=True, text=True, timeout=60, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["status"] == "SUCCEEDED", result
    got = sqs.receive_message(QueueUrl=queue)["Messages"][0]
    assert (got["Body"], got["MessageId"]) == ("hello", result["output"]["sent"]["id"])
    assert result["output"]["published"]["id"]
    assert ddb.get_item(TableName=name, Key={"id": {"S": "hello"}})["Item"] == {"id": {"S": "hello"}}


@pytest.mark.parametrize("engine", ["memory", "sqlite"])
def test_a_refused_service_call_is_worded_as_awss_sdk_words_it(engine, moto):
    """AWS's optimized integrations word a refusal as its Java SDK does
    ('(Service: AmazonDynamoDBv2; Status Code: 400; Error Code: ...;
    Request ID: ...; Proxy: null)'), a call that got no answer as an
    SdkClientException, and an S3 refusal with S3's extended request id
    (LocalStack's recordings on AWS). Our causes were the bare message."""
    import re
    from conftest import AWS
    machine = {"StartAt": "Put", "States": {
        "Put": {"Type": "Task", "Resource": "arn:aws:states:::dynamodb:putItem",
                "Parameters": {"TableName": "no-such-table", "Item": {"id": {"S": "x"}}},
                "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.put", "Next": "Get"}], "End": True},
        "Get": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:s3:getObject",
                "Parameters": {"Bucket": "no-such-bucket-here", "Key": "k"},
                "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.get", "Next": "Send"}], "End": True},
        "Send": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage",
                 "Parameters": {"QueueUrl": "http://127.0.0.1:1/1/q", "MessageBody": "x"},
                 "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.send", "Next": "Done"}], "End": True},
        "Done": {"Type": "Pass", "End": True}}}

    def run(endpoint):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "m.json")
            json.dump(machine, open(path, "w"))
            out = subprocess.run([BINARY, "run", path, "--backend", engine], capture_output=True, text=True,
                                 timeout=60, env=dict(os.environ, AWS_ENDPOINT_URL=endpoint, **AWS))
        return json.loads(out.stdout.strip().splitlines()[-1])["output"]

    out = run(moto)
    assert out["put"]["Error"] == "DynamoDB.ResourceNotFoundException"
    assert re.fullmatch(r".+ \(Service: AmazonDynamoDBv2; Status Code: 400; Error Code: ResourceNotFoundException; "
                        r"Request ID: \S+; Proxy: null\)", out["put"]["Cause"]), out["put"]
    assert out["get"]["Error"] == "S3.NoSuchBucketException"
    assert re.fullmatch(r".+ \(Service: S3, Status Code: 404, Request ID: \S+, Extended Request ID: \S+\)",
                        out["get"]["Cause"]), out["get"]
    assert out["send"]["Error"] == "SQS.QueueDoesNotExistException"
    assert "(Service: AmazonSQS; Status Code: 400; Error Code: QueueDoesNotExist;" in out["send"]["Cause"]
    # Nothing answers on port 1: the call never got a response.
    unreachable = run("http://127.0.0.1:1")["send"]
    assert unreachable["Error"] == "SQS.SdkClientException", unreachable
    assert unreachable["Cause"].startswith("Unable to execute HTTP request: "), unreachable


@pytest.mark.parametrize("engine", ["memory", "sqlite"])
def test_an_error_the_services_model_does_not_name_is_the_sdks_exception(engine, moto):
    """AWS names an error that the service's model does not declare (a
    DynamoDB ValidationException) after the SDK's exception for the
    service: DynamoDB.AmazonDynamoDBException from the optimized
    integration, DynamoDb.DynamoDbException from aws-sdk (LocalStack's
    recordings on AWS). A declared one keeps its name."""
    import boto3
    from conftest import AWS
    kw = dict(endpoint_url=moto, region_name="us-east-1", aws_access_key_id="test",
              aws_secret_access_key="test")
    table = f"keyed-{engine}-{time.time_ns()}"
    boto3.client("dynamodb", **kw).create_table(
        TableName=table, KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST")
    keyless = {"TableName": table, "Item": {"other": {"S": "x"}}}
    catch = lambda path, nxt: [{"ErrorEquals": ["States.ALL"], "ResultPath": path, "Next": nxt}]
    machine = {"StartAt": "Optimized", "States": {
        "Optimized": {"Type": "Task", "Resource": "arn:aws:states:::dynamodb:putItem", "Parameters": keyless,
                      "Catch": catch("$.optimized", "Sdk"), "End": True},
        "Sdk": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:dynamodb:putItem", "Parameters": keyless,
                "Catch": catch("$.sdk", "Declared"), "End": True},
        "Declared": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:dynamodb:getItem",
                     "Parameters": {"TableName": table + "-gone", "Key": {"id": {"S": "x"}}},
                     "Catch": catch("$.declared", "Done"), "End": True},
        "Done": {"Type": "Pass", "End": True}}}
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "m.json")
        json.dump(machine, open(path, "w"))
        out = subprocess.run([BINARY, "run", path, "--backend", engine], capture_output=True, text=True,
                             timeout=60, env=dict(os.environ, AWS_ENDPOINT_URL=moto, **AWS))
    result = json.loads(out.stdout.strip().splitlines()[-1])["output"]
    assert result["optimized"]["Error"] == "DynamoDB.AmazonDynamoDBException", result
    assert "Error Code: ValidationException;" in result["optimized"]["Cause"], result
    assert result["sdk"]["Error"] == "DynamoDb.DynamoDbException", result
    assert result["declared"]["Error"] == "DynamoDb.ResourceNotFoundException", result


def run_history(engine, machine, given):
    """The history `stepwise run --history` prints for `machine` on `engine`."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "m.json")
        json.dump(machine, open(path, "w"))
        out = subprocess.run([BINARY, "run", path, "--input", json.dumps(given), "--history",
                              "--fast-forward", "--backend", engine],
                             capture_output=True, text=True, timeout=60)
    return [e for e in map(json.loads, out.stdout.splitlines()) if "previousEventId" in e]


@pytest.mark.parametrize("engine", ["memory", "sqlite"])
def test_a_branch_that_fails_in_a_task_aborts_it_as_aws_records(engine):
    """AWS (LocalStack's recordings on AWS) records a Task whose failure
    fails its Parallel branch or Map iteration as aborted: TaskStateAborted
    after the failure (and after MapIterationFailed), linked to the failure
    event, as ParallelStateFailed is. We recorded no abort, and linked
    ParallelStateFailed to ParallelStateStarted."""
    task = {"Type": "Task", "Resource": "arn:aws:states:us-east-1:123456789012:activity:slow",
            "TimeoutSeconds": 1, "End": True}
    parallel = {"StartAt": "P", "States": {
        "P": {"Type": "Parallel", "Branches": [{"StartAt": "T", "States": {"T": task}}],
              "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}], "End": True},
        "Caught": {"Type": "Pass", "End": True}}}
    inline_map = {"StartAt": "M", "States": {"M": {
        "Type": "Map", "ItemProcessor": {"StartAt": "T", "States": {"T": task}}, "End": True}}}

    def history(machine, given):
        return [(e["id"], e["previousEventId"], e["type"]) for e in run_history(engine, machine, given)]

    events = history(parallel, {})
    timed_out = next(i for i, _, kind in events if kind == "ActivityTimedOut")
    assert events[timed_out:timed_out + 3] == [
        (timed_out + 1, timed_out, "TaskStateAborted"),
        (timed_out + 2, timed_out, "ParallelStateFailed"),
        (timed_out + 3, timed_out + 2, "ParallelStateExited")], events
    events = history(inline_map, [1])
    failed = next(i for i, _, kind in events if kind == "MapIterationFailed")
    prev = events[failed - 1][1]
    assert events[failed - 1:failed + 2] == [
        (failed, prev, "MapIterationFailed"), (failed + 1, prev, "TaskStateAborted"),
        (failed + 2, prev, "MapStateFailed")], events


@pytest.mark.parametrize("engine", ["memory", "sqlite"])
def test_a_runtime_error_in_a_branch_ends_the_execution_at_once_as_aws_records(engine):
    """AWS (floci's suite, measured) ends an execution whose Parallel
    branch or Map iteration raises States.Runtime at once: ExecutionFailed
    follows the failing state's event, with no ParallelStateFailed,
    MapIterationFailed or MapStateFailed. We recorded them. And an
    execution that its TimeoutSeconds ends follows no event (we linked
    ExecutionTimedOut to the state it was in)."""
    broken = {"StartAt": "B", "States": {"B": {"Type": "Pass", "Parameters": {"v.$": "$.nope"}, "End": True}}}
    parallel = {"StartAt": "P", "States": {"P": {"Type": "Parallel", "Branches": [broken], "End": True}}}
    inline_map = {"StartAt": "M", "States": {"M": {"Type": "Map", "ItemProcessor": broken, "End": True}}}
    slow = {"TimeoutSeconds": 1, "StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 30, "End": True}}}

    def history(machine, given):
        return [(e["id"], e["previousEventId"], e["type"]) for e in run_history(engine, machine, given)]

    assert history(parallel, {}) == [
        (1, 0, "ExecutionStarted"), (2, 0, "ParallelStateEntered"), (3, 2, "ParallelStateStarted"),
        (4, 3, "PassStateEntered"), (5, 4, "ExecutionFailed")]
    assert history(inline_map, [1]) == [
        (1, 0, "ExecutionStarted"), (2, 0, "MapStateEntered"), (3, 2, "MapStateStarted"),
        (4, 3, "MapIterationStarted"), (5, 4, "PassStateEntered"), (6, 5, "ExecutionFailed")]
    assert history(slow, {})[-1] == (3, 0, "ExecutionTimedOut")
    # Inside a fan-out inside another, it follows the failing state's event
    # too, not the inner fan-out's last.
    nested = {"StartAt": "P1", "States": {"P1": {"Type": "Parallel", "End": True, "Branches": [
        {"StartAt": "P2", "States": {"P2": {"Type": "Parallel", "End": True, "Branches": [
            broken, {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 5, "End": True}}}]}}},
        {"StartAt": "W2", "States": {"W2": {"Type": "Wait", "Seconds": 5, "End": True}}}]}}}
    events = history(nested, {})
    bad = next(i for i, _, kind in events if kind == "PassStateEntered")
    assert events[-1] == (len(events), bad, "ExecutionFailed"), events
    # A tolerance counts it: the Map fails past it, recording the
    # iterations it cut short, but not the failed one.
    counted = {"StartAt": "M", "States": {"M": {"Type": "Map", "ToleratedFailureCount": 0, "End": True,
                                                "ItemProcessor": {"StartAt": "Route", "States": {
        "Route": {"Type": "Choice", "Default": "Long",
                  "Choices": [{"Variable": "$.kind", "StringEquals": "bad", "Next": "Pause"}]},
        "Long": {"Type": "Wait", "Seconds": 30, "End": True},
        "Pause": {"Type": "Wait", "Seconds": 1, "Next": "B"},
        "B": broken["States"]["B"]}}}}}
    events = history(counted, [{"kind": "long"}, {"kind": "bad"}])
    f = next(i for i, _, kind in events if kind == "PassStateEntered")
    assert events[f:] == [(f + 1, f, "MapIterationAborted"), (f + 2, f, "WaitStateAborted"),
                          (f + 3, f, "MapStateFailed"), (f + 4, f + 3, "ExecutionFailed")], events


@pytest.mark.parametrize("engine", ["memory", "sqlite"])
def test_children_a_failure_cuts_short_are_recorded_aborted_as_aws_records(engine):
    """AWS records each Map iteration or Parallel branch still running when
    another fails it: MapIterationAborted (a Map's), then the state the
    child was in, aborted (TaskStateAborted, WaitStateAborted), each after
    the failure's event, before the Map's or Parallel's failure. An
    iteration that failed in a Task is recorded failed (and its Task
    aborted) before the ones it cut (LocalStack's
    test_service_lambda_map_timeout, recorded on AWS); one that ended in a
    Fail state, after them (floci's suite, measured on AWS). We recorded
    nothing of the children cut short."""
    def route(failing):
        return {"StartAt": "Route", "States": {
            "Route": {"Type": "Choice", "Default": "Long",
                      "Choices": [{"Variable": "$.kind", "StringEquals": "fail", "Next": "Failing"},
                                  {"Variable": "$.kind", "StringEquals": "quick", "Next": "Quick"}]},
            "Long": {"Type": "Task", "Resource": "arn:aws:states:us-east-1:123456789012:activity:never",
                     "End": True},
            "Quick": {"Type": "Pass", "End": True},
            "Failing": failing}}
    fail_state = {"Type": "Wait", "Seconds": 1, "Next": "Boom"}
    ends_in_fail = route(fail_state)
    ends_in_fail["States"]["Boom"] = {"Type": "Fail", "Error": "Boom"}
    fails_in_task = route({"Type": "Task", "Resource": "arn:aws:states:us-east-1:123456789012:activity:slow",
                           "TimeoutSeconds": 1, "End": True})
    fails_in_task["States"]["Long"] = {"Type": "Wait", "Seconds": 30, "End": True}
    items = [{"kind": "long"}, {"kind": "fail"}, {"kind": "long"}]
    parallel = {"StartAt": "P", "States": {"P": {"Type": "Parallel", "End": True, "Branches": [
        {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 30, "End": True}}},
        {"StartAt": "Pause", "States": {"Pause": {"Type": "Wait", "Seconds": 1, "Next": "Boom"},
                                        "Boom": {"Type": "Fail", "Error": "Boom"}}}]}}}

    def history(machine, given):
        def index(e):
            return next((d["index"] for k, d in e.items() if k.startswith("mapIteration")), None)
        return [(e["id"], e["previousEventId"], e["type"], index(e)) for e in run_history(engine, machine, given)]

    def map_of(processor):
        return {"StartAt": "M", "States": {"M": {"Type": "Map", "ItemProcessor": processor, "End": True}}}

    events = history(map_of(ends_in_fail), items)
    f = next(i for i, _, kind, _ in events if kind == "FailStateEntered")
    assert events[f:] == [
        (f + 1, f, "MapIterationAborted", 0), (f + 2, f, "TaskStateAborted", None),
        (f + 3, f, "MapIterationAborted", 2), (f + 4, f, "TaskStateAborted", None),
        (f + 5, f, "MapIterationFailed", 1),
        (f + 6, f, "MapStateFailed", None), (f + 7, f + 6, "ExecutionFailed", None)], events
    events = history(map_of(fails_in_task), items)
    f = next(i for i, _, kind, _ in events if kind == "ActivityTimedOut")
    assert events[f:] == [
        (f + 1, f, "MapIterationFailed", 1), (f + 2, f, "TaskStateAborted", None),
        (f + 3, f, "MapIterationAborted", 0), (f + 4, f, "WaitStateAborted", None),
        (f + 5, f, "MapIterationAborted", 2), (f + 6, f, "WaitStateAborted", None),
        (f + 7, f, "MapStateFailed", None), (f + 8, f + 7, "ExecutionFailed", None)], events
    events = history(parallel, {})
    f = next(i for i, _, kind, _ in events if kind == "FailStateEntered")
    assert events[f:] == [
        (f + 1, f, "WaitStateAborted", None), (f + 2, f, "ParallelStateFailed", None),
        (f + 3, f + 2, "ExecutionFailed", None)], events
    # The ids a cause quotes are the same whether the history is kept or
    # not: the events cut short take theirs either way.
    caught = map_of(ends_in_fail)
    caught["States"]["M"].update(End=False, Next="Done", Catch=[{"ErrorEquals": ["States.ALL"], "Next": "Bad"}])
    caught["States"].update(Done={"Type": "Succeed"},
                            Bad={"Type": "Pass", "Parameters": {"x.$": "$.nope"}, "End": True})
    entered = next(e["id"] for e in run_history(engine, caught, items) if e["type"] == "PassStateEntered")
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "m.json")
        json.dump(caught, open(path, "w"))
        out = subprocess.run([BINARY, "run", path, "--input", json.dumps(items), "--fast-forward",
                              "--backend", engine], capture_output=True, text=True, timeout=60)
    assert f"(entered at the event id #{entered})" in json.loads(out.stdout.splitlines()[-1])["cause"], out.stdout
    # An iteration that succeeded before changes none of the links.
    events = history(map_of(ends_in_fail), [{"kind": "quick"}] + items)
    f = next(i for i, _, kind, _ in events if kind == "FailStateEntered")
    assert [p for _, p, _, _ in events[f:-1]] == [f] * 6, events


@pytest.mark.parametrize("engine", ["memory", "sqlite"])
def test_map_iterations_that_start_together_link_as_aws_records(engine):
    """LocalStack's test_service_lambda_map_timeout, recorded on AWS: four
    iterations that start together all follow MapStateStarted, and each
    iteration's first state follows its own MapIterationStarted. We chained
    them (each start after the one before, the first state after the last
    start)."""
    machine = {"StartAt": "M", "States": {"M": {"Type": "Map", "End": True, "ItemProcessor": {
        "StartAt": "T", "States": {"T": {"Type": "Task", "TimeoutSeconds": 1, "End": True,
                                         "Resource": "arn:aws:states:us-east-1:123456789012:activity:slow"}}}}}}
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "m.json")
        json.dump(machine, open(path, "w"))
        out = subprocess.run([BINARY, "run", path, "--input", "[1, 2, 3, 4]", "--history", "--fast-forward",
                              "--backend", engine], capture_output=True, text=True, timeout=60)
    events = [e for e in map(json.loads, out.stdout.splitlines()) if "previousEventId" in e]
    started = [e for e in events if e["type"] == "MapStateStarted"][0]["id"]
    iterations = [e for e in events if e["type"] == "MapIterationStarted"]
    assert [e["previousEventId"] for e in iterations] == [started] * 4, events
    entered = [e for e in events if e["type"] == "TaskStateEntered"]
    assert sorted(e["previousEventId"] for e in entered) == [e["id"] for e in iterations], events
