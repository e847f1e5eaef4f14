"""The Map Run API (ListMapRuns, DescribeMapRun) on both `stepwise serve`
backends: a Distributed Map's run as it runs (its counts read from the Map
state's thread), as it ended, and when its execution was stopped."""
import json
import time
import uuid

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import BACKENDS, ROLE, client, serve_on, wait_for

@pytest.fixture(scope="module", params=BACKENDS)
def sfn(request, moto):
    s = serve_on(request.param, moto, "map-runs")
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


def counts_of(sfn, run):
    c = sfn.describe_map_run(mapRunArn=run)["itemCounts"]
    return {k: c[k] for k in ("pending", "running", "succeeded", "failed")}


def eventually(read, want, timeout=15):
    deadline = time.time() + timeout
    while True:
        got = read()
        if got == want or time.time() > deadline:
            assert got == want
            return
        time.sleep(0.05)


def test_update_map_run_raises_the_concurrency_of_a_running_run(sfn):
    processor = {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 60, "End": True}}}
    _, arn = start(sfn, distributed(processor, MaxConcurrency=1), ["a", "b", "c", "d"])
    run = only_run(sfn, arn)["mapRunArn"]
    eventually(lambda: counts_of(sfn, run), {"pending": 3, "running": 1, "succeeded": 0, "failed": 0})
    sfn.update_map_run(mapRunArn=run, maxConcurrency=3)
    eventually(lambda: counts_of(sfn, run), {"pending": 1, "running": 3, "succeeded": 0, "failed": 0})
    assert sfn.describe_map_run(mapRunArn=run)["maxConcurrency"] == 3
    # 0 is no limit, as in the definition.
    sfn.update_map_run(mapRunArn=run, maxConcurrency=0)
    eventually(lambda: counts_of(sfn, run), {"pending": 0, "running": 4, "succeeded": 0, "failed": 0})
    sfn.stop_execution(executionArn=arn)
    assert wait_for(sfn, arn)["status"] == "ABORTED"


def test_update_map_run_lowering_the_tolerance_below_the_failures_fails_the_run(sfn):
    processor = {"StartAt": "C", "States": {
        "C": {"Type": "Choice", "Choices": [{"Variable": "$", "NumericEquals": 1, "Next": "Bad"}],
              "Default": "W"},
        "Bad": {"Type": "Fail", "Error": "One"},
        "W": {"Type": "Wait", "Seconds": 60, "End": True}}}
    _, arn = start(sfn, distributed(processor, ToleratedFailureCount=2), [1, 2, 3])
    run = only_run(sfn, arn)["mapRunArn"]
    eventually(lambda: counts_of(sfn, run), {"pending": 0, "running": 2, "succeeded": 0, "failed": 1})
    # Still within a count of 1.
    sfn.update_map_run(mapRunArn=run, toleratedFailureCount=1)
    eventually(lambda: sfn.describe_map_run(mapRunArn=run)["toleratedFailureCount"], 1)
    assert sfn.describe_execution(executionArn=arn)["status"] == "RUNNING"
    sfn.update_map_run(mapRunArn=run, toleratedFailureCount=0)
    d = wait_for(sfn, arn, timeout=15)
    assert (d["status"], d["error"]) == ("FAILED", "States.ExceedToleratedFailureThreshold")
    d = sfn.describe_map_run(mapRunArn=run)
    assert (d["status"], d["toleratedFailureCount"]) == ("FAILED", 0)
    assert (d["itemCounts"]["failed"], d["itemCounts"]["aborted"]) == (1, 2)
    # An ended run takes no update.
    with pytest.raises(ClientError) as e:
        sfn.update_map_run(mapRunArn=run, maxConcurrency=5)
    assert e.value.response["Error"]["Code"] == "ValidationException"


def test_update_map_run_errors_change_nothing(sfn):
    processor = {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 60, "End": True}}}
    _, arn = start(sfn, distributed(processor, MaxConcurrency=1), ["a", "b"])
    run = only_run(sfn, arn)["mapRunArn"]
    # The run settles at one item running and one waiting for it.
    eventually(lambda: limit_and_counts(sfn, run), (1, 1, 1))
    # boto3 checks ranges itself: send what another client could.
    raw = boto3.client("stepfunctions", endpoint_url=sfn.meta.endpoint_url, region_name="us-east-1",
                       aws_access_key_id="test", aws_secret_access_key="test",
                       config=Config(parameter_validation=False))
    for bad in ({}, {"maxConcurrency": -1}, {"toleratedFailurePercentage": 100.5},
                {"toleratedFailureCount": -3}):
        with pytest.raises(ClientError) as e:
            raw.update_map_run(mapRunArn=run, **bad)
        assert e.value.response["Error"]["Code"] == "ValidationException", bad
    with pytest.raises(ClientError) as e:
        sfn.update_map_run(mapRunArn=run + "x", maxConcurrency=2)
    assert e.value.response["Error"]["Code"] == "ResourceNotFound"
    with pytest.raises(ClientError) as e:
        sfn.update_map_run(mapRunArn=arn, maxConcurrency=2)
    assert e.value.response["Error"]["Code"] == "InvalidArn"
    # An update takes effect by a message to the Map's thread: give a wrong
    # one the time to land, then the run is as it was.
    time.sleep(0.5)
    assert limit_and_counts(sfn, run) == (1, 1, 1)
    sfn.stop_execution(executionArn=arn)


def limit_and_counts(sfn, run):
    d = sfn.describe_map_run(mapRunArn=run)
    return d["maxConcurrency"], d["itemCounts"]["running"], d["itemCounts"]["pending"]


def test_a_batched_run_counts_items_and_child_executions_apart(sfn):
    processor = {"StartAt": "C", "States": {
        "C": {"Type": "Choice", "Choices": [{"Variable": "$.Items[0]", "NumericEquals": 3, "Next": "Bad"}],
              "Default": "Good"},
        "Bad": {"Type": "Fail", "Error": "Three"},
        "Good": {"Type": "Pass", "End": True}}}
    _, arn = start(sfn, distributed(processor, ItemBatcher={"MaxItemsPerBatch": 2}, ToleratedFailureCount=1),
                   [1, 2, 3, 4, 5])
    assert wait_for(sfn, arn, timeout=30)["status"] == "SUCCEEDED"
    d = sfn.describe_map_run(mapRunArn=only_run(sfn, arn)["mapRunArn"])
    keys = ("total", "succeeded", "failed", "resultsWritten")
    # Batches [1, 2], [3, 4] (failed) and [5].
    # A run that succeeded wrote its results into the state's output: AWS
    # counts them as written without a ResultWriter too.
    assert {k: d["itemCounts"][k] for k in keys} == {"total": 5, "succeeded": 3, "failed": 2, "resultsWritten": 5}
    assert {k: d["executionCounts"][k] for k in keys} == {"total": 3, "succeeded": 2, "failed": 1, "resultsWritten": 3}
    # A ResultWriter's results are counted as written.
    passed = {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}
    writer = {"WriterConfig": {"Transformation": "FLATTEN", "OutputType": "JSON"}}
    _, arn = start(sfn, distributed(passed, ItemBatcher={"MaxItemsPerBatch": 2}, ResultWriter=writer), [1, 2, 3])
    assert wait_for(sfn, arn, timeout=30)["status"] == "SUCCEEDED"
    d = sfn.describe_map_run(mapRunArn=only_run(sfn, arn)["mapRunArn"])
    assert (d["itemCounts"]["resultsWritten"], d["executionCounts"]["resultsWritten"]) == (3, 2)
