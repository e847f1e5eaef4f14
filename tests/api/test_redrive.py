"""RedriveExecution of a Parallel or Map that failed or was stopped runs only
the branches and iterations that did not succeed (AWS's rule), and a
Distributed Map's Map Run carries on — on both `stepwise serve` backends.
Each iteration counts its runs in a DynamoDB table in moto, so a run too
many shows."""
import datetime
import json
import time
import uuid

import boto3
import pytest

from conftest import BACKENDS, AWS, ROLE, client, serve_on, wait_for


@pytest.fixture(scope="module", params=BACKENDS)
def sfn(request, moto):
    s = serve_on(request.param, moto, "redrive", services=True)
    yield client(s.url)
    s.stop()


@pytest.fixture()
def table(moto):
    ddb = boto3.client("dynamodb", endpoint_url=moto, **{
        "region_name": AWS["AWS_REGION"], "aws_access_key_id": "test", "aws_secret_access_key": "test"})
    name = "runs-" + uuid.uuid4().hex[:8]
    ddb.create_table(TableName=name, KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                     BillingMode="PAY_PER_REQUEST")

    def runs():
        items = ddb.scan(TableName=name)["Items"]
        return {i["id"]["S"]: int(i["n"]["N"]) for i in items if "n" in i}

    def block(item, blocked):
        if blocked:
            ddb.put_item(TableName=name, Item={"id": {"S": item}, "blocked": {"BOOL": True}})
        else:
            ddb.update_item(TableName=name, Key={"id": {"S": item}}, UpdateExpression="REMOVE blocked")
    runs.block = block
    return name, runs


def counted(table, then):
    """An iteration on {"id": …}: counts its run, then `then`."""
    condition = then.pop("ConditionExpression", None)
    parameters = {"TableName": table, "Key": {"id": {"S.$": "$.id"}}, "UpdateExpression": "ADD n :one",
                  "ExpressionAttributeValues": {":one": {"N": "1"}}, "ReturnValues": "UPDATED_NEW"}
    if condition:
        parameters["ConditionExpression"] = condition
    return {"Type": "Task", "Resource": "arn:aws:states:::dynamodb:updateItem", "Parameters": parameters,
            "ResultSelector": {"n.$": "$.Attributes.n.N"}, "ResultPath": "$.count", **then}


def flaky_processor(table):
    """Each item counts its run, and then is done; the count of an item
    marked `blocked` fails (DynamoDB's condition), as "bad" is at first."""
    return {"StartAt": "Prep", "States": {
        "Prep": {"Type": "Pass", "Next": "Count"},
        "Count": counted(table, {"Next": "Seen", "ConditionExpression": "attribute_not_exists(blocked)"}),
        "Seen": {"Type": "Pass", "Parameters": {"execution.$": "$$.Execution"}, "ResultPath": "$.seen",
                 "Next": "Done"},
        "Done": {"Type": "Pass", "OutputPath": "$.id", "End": True}}}


def exited(events, state):
    """The outputs of the Pass state `state` in `events`, parsed, in order."""
    return [json.loads(e["stateExitedEventDetails"]["output"]) for e in events
            if e["type"] == "PassStateExited" and e["stateExitedEventDetails"]["name"] == state]


def seen(sfn, arn):
    """What the state "Seen" of the execution `arn` saw of `$$.Execution`."""
    events = sfn.get_execution_history(executionArn=arn)["events"]
    return exited(events, "Seen")[0]["seen"]["execution"]


def instant(text):
    """An ISO 8601 time with a `Z`, as a datetime to compare with boto3's."""
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


def start(sfn, definition):
    m = sfn.create_state_machine(name="rd-" + uuid.uuid4().hex[:8], roleArn=ROLE,
                                 definition=json.dumps(definition))["stateMachineArn"]
    return sfn.start_execution(stateMachineArn=m, input=json.dumps({"items": ["a", "b", "bad", "d"]}))["executionArn"]


def redrive(sfn, arn):
    sfn.redrive_execution(executionArn=arn)
    d = wait_for(sfn, arn, timeout=30)
    assert (d["status"], d["redriveCount"]) == ("SUCCEEDED", 1), \
        [e["type"] for e in sfn.get_execution_history(executionArn=arn)["events"]]
    return d


@pytest.mark.parametrize("mode", ["INLINE", "DISTRIBUTED"])
def test_a_redriven_map_runs_only_the_iterations_that_did_not_succeed(sfn, table, mode):
    name, runs = table
    runs.block("bad", True)
    processor = dict(flaky_processor(name), ProcessorConfig={"Mode": mode, "ExecutionType": "STANDARD"})
    arn = start(sfn, {"StartAt": "M", "States": {"M": {
        "Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 1, "End": True,
        "ItemSelector": {"id.$": "$$.Map.Item.Value"}, "ItemProcessor": processor}}})
    failed = wait_for(sfn, arn, timeout=30)
    assert (failed["status"], failed["error"]) == ("FAILED", "DynamoDB.ConditionalCheckFailedException")
    # One at a time: "d" never started; "bad" was not counted.
    assert runs() == {"a": 1, "b": 1}
    runs.block("bad", False)
    d = redrive(sfn, arn)
    assert json.loads(d["output"]) == ["a", "b", "bad", "d"]
    assert runs() == {"a": 1, "b": 1, "bad": 1, "d": 1}
    events = sfn.get_execution_history(executionArn=arn)["events"]
    types = [e["type"] for e in events]
    if mode == "INLINE":
        after = events[types.index("ExecutionRedriven"):]
        assert [e["type"] for e in after].count("MapIterationStarted") == 2
        # "bad" is taken up at Count, where it failed; "d" starts at Prep.
        entered = [e["stateEnteredEventDetails"]["name"] for e in after if e["type"].endswith("StateEntered")]
        assert entered.count("Prep") == 1 and entered.count("Count") == 2, entered
        # Each iteration run again sees the execution's redrive.
        times = [o["seen"]["execution"]["RedriveTime"] for o in exited(after, "Seen")]
        assert len(times) == 2, times
        assert all(instant(t) == d["redriveDate"] for t in times)
        return
    started = [e["mapRunStartedEventDetails"]["mapRunArn"] for e in events if e["type"] == "MapRunStarted"]
    redriven = [e["mapRunRedrivenEventDetails"] for e in events if e["type"] == "MapRunRedriven"]
    assert len(started) == 1 and redriven == [{"mapRunArn": started[0], "redriveCount": 1}]
    assert [r["mapRunArn"] for r in sfn.list_map_runs(executionArn=arn)["mapRuns"]] == started
    run = sfn.describe_map_run(mapRunArn=started[0])
    assert (run["status"], run["redriveCount"]) == ("SUCCEEDED", 1)
    assert run["redriveDate"] >= run["startDate"]
    counts = {k: run["itemCounts"][k] for k in ("total", "succeeded", "failed", "pending", "running")}
    assert counts == {"total": 4, "succeeded": 4, "failed": 0, "pending": 0, "running": 0}
    # The failed child execution was redriven, not replaced: its history
    # goes on after its failure.
    children = sfn.list_executions(mapRunArn=started[0])["executions"]
    assert sorted(c["status"] for c in children) == ["SUCCEEDED"] * 4
    bad = next(c["executionArn"] for c in children
               if json.loads(sfn.describe_execution(executionArn=c["executionArn"])["input"]) == {"id": "bad"})
    types = [e["type"] for e in sfn.get_execution_history(executionArn=bad)["events"]]
    assert types[0] == "ExecutionStarted" and types[-1] == "ExecutionSucceeded", types
    assert types.index("ExecutionFailed") < types.index("ExecutionRedriven"), types
    after = types[types.index("ExecutionRedriven"):]
    assert after[1] == "TaskStateEntered" and "PassStateEntered" in after, types
    # A child execution redriven says when it was (its ExecutionRedriven);
    # one started only by the redrive was never redriven.
    redriven_at = next(e["timestamp"] for e in sfn.get_execution_history(executionArn=bad)["events"]
                       if e["type"] == "ExecutionRedriven")
    at = seen(sfn, bad)["RedriveTime"]
    assert instant(at) == redriven_at, (at, redriven_at)
    fresh = next(c["executionArn"] for c in children
                 if json.loads(sfn.describe_execution(executionArn=c["executionArn"])["input"]) == {"id": "d"})
    assert "RedriveTime" not in seen(sfn, fresh)


def test_a_redriven_stopped_parallel_runs_only_the_branch_that_was_stopped(sfn, table):
    name, runs = table
    # The second branch waits a minute on the first attempt only.
    waits = {"StartAt": "First", "States": {
        "First": {"Type": "Choice", "Choices": [
            {"Variable": "$$.Execution.RedriveCount", "NumericEquals": 0, "Next": "Wait"}], "Default": "Count slow"},
        "Wait": {"Type": "Wait", "Seconds": 60, "Next": "Count slow"},
        "Count slow": counted(name, {"End": True, "Parameters": {
            "TableName": name, "Key": {"id": {"S": "slow"}}, "UpdateExpression": "ADD n :one",
            "ExpressionAttributeValues": {":one": {"N": "1"}}, "ReturnValues": "UPDATED_NEW"}})}}
    # (State names are unique in the whole machine, branches included.)
    quick = {"StartAt": "Count quick", "States": {"Count quick": counted(name, {"End": True, "Parameters": {
        "TableName": name, "Key": {"id": {"S": "quick"}}, "UpdateExpression": "ADD n :one",
        "ExpressionAttributeValues": {":one": {"N": "1"}}, "ReturnValues": "UPDATED_NEW"}})}}
    arn = start(sfn, {"StartAt": "P", "States": {"P": {"Type": "Parallel", "End": True,
                                                      "Branches": [quick, waits]}}})
    deadline = time.time() + 20
    while runs().get("quick") != 1 and time.time() < deadline:
        time.sleep(0.1)
    time.sleep(0.5)  # the quick branch's end reaches the Parallel state
    sfn.stop_execution(executionArn=arn)
    assert wait_for(sfn, arn)["status"] == "ABORTED"
    d = redrive(sfn, arn)
    assert runs() == {"quick": 1, "slow": 1}
    out = json.loads(d["output"])
    assert [b["count"]["n"] for b in out] == ["1", "1"]


def test_a_redriven_execution_sees_when_it_was_redriven_in_its_context(sfn, table):
    """`$$.Execution.RedriveTime` is the redrive's date, in the execution's
    states and in its branches; before any redrive there is none, and
    RedriveCount is 0."""
    name, runs = table
    runs.block("bad", True)
    branch = {"StartAt": "Inner", "States": {"Inner": {
        "Type": "Pass", "Parameters": {"execution.$": "$$.Execution"}, "End": True}}}
    arn = start(sfn, {"StartAt": "Before", "States": {
        "Before": {"Type": "Pass", "Parameters": {"id": "bad", "execution.$": "$$.Execution"}, "Next": "Count"},
        "Count": counted(name, {"Next": "After", "ConditionExpression": "attribute_not_exists(blocked)"}),
        "After": {"Type": "Parallel", "Branches": [branch], "End": True}}})
    assert wait_for(sfn, arn, timeout=30)["status"] == "FAILED"
    runs.block("bad", False)
    d = redrive(sfn, arn)
    events = sfn.get_execution_history(executionArn=arn)["events"]
    before = exited(events, "Before")[0]["execution"]
    assert before["RedriveCount"] == 0 and "RedriveTime" not in before, before
    after = json.loads(d["output"])[0]["execution"]
    assert after["RedriveCount"] == 1
    assert instant(after["RedriveTime"]) == d["redriveDate"], (after, d["redriveDate"])
