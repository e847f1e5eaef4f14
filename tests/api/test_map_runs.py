"""The Map Run API (ListMapRuns, DescribeMapRun) on both `stepwise serve`
backends: a Distributed Map's run as it runs (its counts read from the Map
state's thread), as it ended, and when its execution was stopped."""
import json
import time
import uuid

import pytest
from botocore.exceptions import ClientError

from conftest import ROLE, Server, client, wait_for

AWS = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_REGION": "us-east-1"}


@pytest.fixture(scope="module", params=["embedded", "aws"])
def sfn(request, moto):
    if request.param == "embedded":
        s = Server(["--in-memory"]).start()
    else:
        name = "map-runs-" + uuid.uuid4().hex[:8]
        s = Server(["--backend", "aws", "--create-resources", "--table", name, "--queue", name],
                   env=dict(AWS, AWS_ENDPOINT_URL=moto)).start()
    yield client(s.url)
    s.stop()


def distributed(processor, **map_fields):
    return {"StartAt": "M", "States": {"M": {
        "Type": "Map", "End": True, "ItemsPath": "$.items", "Label": "Batch",
        "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                          **processor}, **map_fields}}}


def start(sfn, definition, items):
    m = sfn.create_state_machine(name=f"mr-{uuid.uuid4().hex[:8]}", roleArn=ROLE,
                                 definition=json.dumps(definition))["stateMachineArn"]
    arn = sfn.start_execution(stateMachineArn=m, input=json.dumps({"items": items}))["executionArn"]
    return m, arn


def only_run(sfn, execution):
    deadline = time.time() + 10
    while True:
        runs = sfn.list_map_runs(executionArn=execution)["mapRuns"]
        if runs or time.time() > deadline:
            assert len(runs) == 1, runs
            return runs[0]
        time.sleep(0.05)


def test_a_finished_map_run_with_a_tolerated_failure(sfn):
    processor = {"StartAt": "C", "States": {
        "C": {"Type": "Choice", "Choices": [{"Variable": "$", "NumericEquals": 3, "Next": "Bad"}],
              "Default": "Good"},
        "Bad": {"Type": "Fail", "Error": "Three"},
        "Good": {"Type": "Pass", "End": True}}}
    machine, arn = start(sfn, distributed(processor, MaxConcurrency=2, ToleratedFailureCount=1),
                         [1, 2, 3, 4, 5])
    assert wait_for(sfn, arn, timeout=30)["status"] == "SUCCEEDED"
    line = only_run(sfn, arn)
    history = sfn.get_execution_history(executionArn=arn)["events"]
    started = [e["mapRunStartedEventDetails"]["mapRunArn"] for e in history if e["type"] == "MapRunStarted"]
    assert line["mapRunArn"] == started[0]
    assert line["executionArn"] == arn
    assert line["stateMachineArn"] == machine + "/Batch"
    assert line["stopDate"] >= line["startDate"]
    d = sfn.describe_map_run(mapRunArn=line["mapRunArn"])
    assert (d["status"], d["executionArn"], d["maxConcurrency"]) == ("SUCCEEDED", arn, 2)
    assert (d["toleratedFailureCount"], d["toleratedFailurePercentage"]) == (1, 0.0)
    assert d["itemCounts"] == d["executionCounts"]
    counts = {k: d["itemCounts"][k] for k in ("total", "pending", "running", "succeeded", "failed", "aborted")}
    assert counts == {"total": 5, "pending": 0, "running": 0, "succeeded": 4, "failed": 1, "aborted": 0}


def test_a_running_map_run_shows_its_progress_and_a_stop_aborts_it(sfn):
    processor = {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 60, "End": True}}}
    _, arn = start(sfn, distributed(processor, MaxConcurrency=1), ["a", "b", "c"])
    run = only_run(sfn, arn)["mapRunArn"]
    d = sfn.describe_map_run(mapRunArn=run)
    assert d["status"] == "RUNNING" and "stopDate" not in d
    counts = {k: d["itemCounts"][k] for k in ("total", "pending", "running", "succeeded")}
    assert counts == {"total": 3, "pending": 2, "running": 1, "succeeded": 0}
    sfn.stop_execution(executionArn=arn)
    assert wait_for(sfn, arn)["status"] == "ABORTED"
    d = sfn.describe_map_run(mapRunArn=run)
    assert d["status"] == "ABORTED" and "stopDate" in d
    assert (d["itemCounts"]["running"], d["itemCounts"]["aborted"], d["itemCounts"]["pending"]) == (0, 1, 2)


def test_map_run_errors(sfn):
    _, arn = start(sfn, {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}, [])
    assert sfn.list_map_runs(executionArn=arn)["mapRuns"] == []
    missing = arn.replace(":execution:", ":mapRun:") + "/x:1"
    with pytest.raises(ClientError) as e:
        sfn.describe_map_run(mapRunArn=missing)
    assert e.value.response["Error"]["Code"] == "ResourceNotFound"
    with pytest.raises(ClientError) as e:
        sfn.describe_map_run(mapRunArn="arn:aws:states:us-east-1:123456789012:execution:m:e")
    assert e.value.response["Error"]["Code"] == "InvalidArn"
    with pytest.raises(ClientError) as e:
        sfn.list_map_runs(executionArn=arn + "-gone")
    assert e.value.response["Error"]["Code"] == "ExecutionDoesNotExist"
