"""A Distributed Map's child executions (ExecutionType STANDARD) as
executions of their own on both `stepwise serve` backends: listed by
ListExecutions(mapRunArn), described, each with its own history, while the
parent's history holds only its Map Run."""
import json
import time
import uuid

import pytest
from botocore.exceptions import ClientError

from conftest import BACKENDS, ROLE, client, serve_on, wait_for


@pytest.fixture(scope="module", params=BACKENDS)
def sfn(request, moto):
    s = serve_on(request.param, moto, "children")
    yield client(s.url)
    s.stop()


def start(sfn, processor, items, execution_type="STANDARD", **map_fields):
    definition = {"StartAt": "M", "States": {"M": {
        "Type": "Map", "End": True, "ItemsPath": "$.items", "Label": "Each",
        "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": execution_type},
                          **processor}, **map_fields}}}
    m = sfn.create_state_machine(name=f"ch-{uuid.uuid4().hex[:8]}", roleArn=ROLE,
                                 definition=json.dumps(definition))["stateMachineArn"]
    arn = sfn.start_execution(stateMachineArn=m, input=json.dumps({"items": items}))["executionArn"]
    return m, arn


def run_of(sfn, execution):
    deadline = time.time() + 10
    while True:
        runs = sfn.list_map_runs(executionArn=execution)["mapRuns"]
        if runs or time.time() > deadline:
            return runs[0]["mapRunArn"]
        time.sleep(0.05)


def children(sfn, run, **kw):
    out, token = [], None
    while True:
        page = sfn.list_executions(mapRunArn=run, **kw, **({"nextToken": token} if token else {}))
        out += page["executions"]
        token = page.get("nextToken")
        if not token:
            return out


CHOOSE = {"StartAt": "C", "States": {
    "C": {"Type": "Choice", "Choices": [{"Variable": "$", "NumericEquals": 3, "Next": "Bad"}],
          "Default": "Good"},
    "Bad": {"Type": "Fail", "Error": "Three", "Cause": "three is bad"},
    "Good": {"Type": "Pass", "Result": {"ok": True}, "End": True}}}


def test_each_child_is_an_execution_with_its_own_history(sfn):
    machine, arn = start(sfn, CHOOSE, [1, 2, 3, 4, 5], ToleratedFailureCount=1)
    assert wait_for(sfn, arn, timeout=30)["status"] == "SUCCEEDED"
    run = run_of(sfn, arn)
    listed = children(sfn, run)
    assert len(listed) == 5
    assert len({c["executionArn"] for c in listed}) == 5
    prefix = machine.replace(":stateMachine:", ":execution:") + "/Each:"
    for c in listed:
        assert c["executionArn"].startswith(prefix), c
        assert c["name"] == c["executionArn"][len(prefix):]
        assert c["stateMachineArn"] == machine + "/Each"
        assert c["mapRunArn"] == run and c["itemCount"] == 1
        assert c["stopDate"] >= c["startDate"]
    assert sorted(c["status"] for c in listed) == ["FAILED"] + ["SUCCEEDED"] * 4
    failed = [c for c in listed if c["status"] == "FAILED"]
    assert [c["executionArn"] for c in children(sfn, run, statusFilter="FAILED")] == \
        [failed[0]["executionArn"]]
    d = sfn.describe_execution(executionArn=failed[0]["executionArn"])
    assert (d["status"], d["input"], d["error"], d["cause"]) == ("FAILED", "3", "Three", "three is bad")
    assert d["mapRunArn"] == run and d["stateMachineArn"] == machine + "/Each"
    history = sfn.get_execution_history(executionArn=failed[0]["executionArn"])["events"]
    assert [(e["id"], e["previousEventId"], e["type"]) for e in history] == [
        (1, 0, "ExecutionStarted"), (2, 0, "ChoiceStateEntered"), (3, 2, "ChoiceStateExited"),
        (4, 3, "FailStateEntered"), (5, 4, "ExecutionFailed")]
    assert history[0]["executionStartedEventDetails"]["input"] == "3"
    assert history[-1]["executionFailedEventDetails"] == {"error": "Three", "cause": "three is bad"}
    # Its machine: the Map's ItemProcessor, under the Map Run's label.
    m = sfn.describe_state_machine_for_execution(executionArn=failed[0]["executionArn"])
    assert (m["stateMachineArn"], m["mapRunArn"], m["label"]) == (machine + "/Each", run, "Each")
    assert json.loads(m["definition"]) == CHOOSE
    ok = next(c for c in listed if c["status"] == "SUCCEEDED")["executionArn"]
    d = sfn.describe_execution(executionArn=ok)
    assert json.loads(d["output"]) == {"ok": True}
    last = sfn.get_execution_history(executionArn=ok, reverseOrder=True, maxResults=1)
    assert last["events"][0]["type"] == "ExecutionSucceeded" and "nextToken" in last
    # The parent's history holds its Map Run, not its children's states.
    parent = [e["type"] for e in sfn.get_execution_history(executionArn=arn)["events"]]
    assert "MapRunStarted" in parent and "ChoiceStateEntered" not in parent
    assert "ExecutionStarted" == parent[0] and parent.count("ExecutionStarted") == 1


def test_listing_pages_newest_first(sfn):
    _, arn = start(sfn, {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}},
                   list(range(7)), MaxConcurrency=1)
    assert wait_for(sfn, arn, timeout=30)["status"] == "SUCCEEDED"
    run = run_of(sfn, arn)
    first = sfn.list_executions(mapRunArn=run, maxResults=3)
    assert len(first["executions"]) == 3 and first["nextToken"]
    every = children(sfn, run, maxResults=3)
    assert len(every) == 7
    inputs = [json.loads(sfn.describe_execution(executionArn=c["executionArn"])["input"])
              for c in every]
    assert inputs == [6, 5, 4, 3, 2, 1, 0]
    assert [c["executionArn"] for c in every[:3]] == [c["executionArn"] for c in first["executions"]]


def test_a_running_child_is_listed_and_a_stop_aborts_it(sfn):
    wait = {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 60, "End": True}}}
    _, arn = start(sfn, wait, ["a", "b"], MaxConcurrency=1)
    run = run_of(sfn, arn)
    deadline = time.time() + 10
    while not (listed := children(sfn, run)) and time.time() < deadline:
        time.sleep(0.05)
    assert [c["status"] for c in listed] == ["RUNNING"]
    child = listed[0]["executionArn"]
    assert "stopDate" not in sfn.describe_execution(executionArn=child)
    for act in (sfn.stop_execution, sfn.redrive_execution):
        with pytest.raises(ClientError) as e:
            act(executionArn=child)
        assert e.value.response["Error"]["Code"] == "ValidationException"
        assert run in e.value.response["Error"]["Message"]
    sfn.stop_execution(executionArn=arn)
    assert wait_for(sfn, arn)["status"] == "ABORTED"
    deadline = time.time() + 10
    while (d := sfn.describe_execution(executionArn=child))["status"] == "RUNNING" \
            and time.time() < deadline:
        time.sleep(0.05)
    assert d["status"] == "ABORTED" and d["stopDate"] >= d["startDate"]
    types = [e["type"] for e in sfn.get_execution_history(executionArn=child)["events"]]
    assert types == ["ExecutionStarted", "WaitStateEntered", "ExecutionAborted"]


def test_express_children_are_not_kept(sfn):
    _, arn = start(sfn, {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}},
                   [1, 2], execution_type="EXPRESS")
    assert wait_for(sfn, arn, timeout=30)["status"] == "SUCCEEDED"
    assert sfn.list_executions(mapRunArn=run_of(sfn, arn))["executions"] == []


def test_listing_errors(sfn):
    machine, arn = start(sfn, {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}, [1])
    assert wait_for(sfn, arn, timeout=30)["status"] == "SUCCEEDED"
    run = run_of(sfn, arn)
    with pytest.raises(ClientError) as e:
        sfn.list_executions(mapRunArn=run + "x")
    assert e.value.response["Error"]["Code"] == "ResourceNotFound"
    with pytest.raises(ClientError) as e:
        sfn.list_executions(mapRunArn=run, stateMachineArn=machine)
    assert e.value.response["Error"]["Code"] == "ValidationException"
    with pytest.raises(ClientError) as e:
        sfn.list_executions(mapRunArn=run, nextToken="bogus")
    assert e.value.response["Error"]["Code"] == "InvalidToken"


def test_a_childs_parallel_branches_are_in_its_history(sfn):
    branch = lambda name, seconds: {"StartAt": name, "States": {  # noqa: E731
        name: {"Type": "Wait", "Seconds": seconds, "Next": name + "2"},
        name + "2": {"Type": "Pass", "Result": name, "End": True}}}
    processor = {"StartAt": "P", "States": {"P": {"Type": "Parallel", "End": True,
                                                  "Branches": [branch("A", 0), branch("B", 1)]}}}
    _, arn = start(sfn, processor, ["x"])
    assert wait_for(sfn, arn, timeout=30)["status"] == "SUCCEEDED"
    [child] = children(sfn, run_of(sfn, arn))
    assert json.loads(sfn.describe_execution(executionArn=child["executionArn"])["output"]) == ["A", "B"]
    events = sfn.get_execution_history(executionArn=child["executionArn"])["events"]
    types = [e["type"] for e in events]
    assert [e["id"] for e in events] == list(range(1, len(events) + 1))
    assert types[:3] == ["ExecutionStarted", "ParallelStateEntered", "ParallelStateStarted"]
    assert types[-3:] == ["ParallelStateSucceeded", "ParallelStateExited", "ExecutionSucceeded"] \
        or types[-2:] == ["ParallelStateExited", "ExecutionSucceeded"], types
    entered = [e["stateEnteredEventDetails"]["name"] for e in events if e["type"].endswith("StateEntered")]
    assert sorted(entered) == ["A", "A2", "B", "B2", "P"]
    # Each branch's states in its order; B's second state after its Wait.
    assert entered.index("A") < entered.index("A2") and entered.index("B") < entered.index("B2")
    assert types.count("WaitStateExited") == 2 and types.count("PassStateExited") == 2
    # The parent's history holds none of it.
    parent = [e["type"] for e in sfn.get_execution_history(executionArn=arn)["events"]]
    assert "WaitStateEntered" not in parent and "ParallelStateEntered" not in parent


def test_a_stopped_childs_branches_keep_their_events(sfn):
    """A child's Parallel branch cancelled with the child (its parent was
    stopped) keeps in the child's history the events of its steps since
    the last it handed over."""
    branch = {"StartAt": "W1", "States": {
        "W1": {"Type": "Wait", "Seconds": 1, "Next": "Mid"},
        "Mid": {"Type": "Pass", "Next": "W2"},
        "W2": {"Type": "Wait", "Seconds": 60, "End": True}}}
    processor = {"StartAt": "P", "States": {"P": {"Type": "Parallel", "End": True, "Branches": [branch]}}}
    _, arn = start(sfn, processor, ["x"])
    run = run_of(sfn, arn)
    deadline = time.time() + 10
    while not (listed := children(sfn, run)) and time.time() < deadline:
        time.sleep(0.05)
    child = listed[0]["executionArn"]
    # Past its first Wait: the branch stepped a second time (Mid, W2),
    # events it has not handed over yet (so not in the history to wait
    # for). Then the stop. On moto a 1 s Wait can take 2 s and more.
    time.sleep(4)
    sfn.stop_execution(executionArn=arn)
    assert wait_for(sfn, arn)["status"] == "ABORTED"
    deadline = time.time() + 10
    while sfn.describe_execution(executionArn=child)["status"] == "RUNNING" and time.time() < deadline:
        time.sleep(0.05)
    # The branch hands its events over when it takes its stop, a queue hop
    # after the child reads ABORTED (a second on moto).
    deadline = time.time() + 10
    while True:
        events = sfn.get_execution_history(executionArn=child)["events"]
        types = [e["type"] for e in events]
        entered = [e["stateEnteredEventDetails"]["name"] for e in events
                   if e["type"].endswith("StateEntered")]
        if entered == ["P", "W1", "Mid", "W2"] or time.time() > deadline:
            break
        time.sleep(0.1)
    assert entered == ["P", "W1", "Mid", "W2"], types
    assert types[-1] == "ExecutionAborted"
