"""TestState: one state, alone, on an input (boto3)."""
import json

import pytest

from conftest import ROLE


def run(sfn, state, data, **kw):
    return sfn.test_state(definition=json.dumps(state), roleArn=ROLE, input=json.dumps(data), **kw)


def test_a_pass_state_shapes_its_input_and_names_its_next_state(sfn):
    r = run(sfn, {"Type": "Pass", "Parameters": {"sum.$": "States.MathAdd($.a, $.b)"},
                  "ResultPath": "$.result", "Next": "Ship"}, {"a": 2, "b": 5})
    assert r["status"] == "SUCCEEDED"
    assert json.loads(r["output"]) == {"a": 2, "b": 5, "result": {"sum": 7}}
    assert r["nextState"] == "Ship"


def test_a_choice_state_names_the_branch_it_takes(sfn):
    choice = {"Type": "Choice", "Default": "Small",
              "Choices": [{"Variable": "$.n", "NumericGreaterThan": 10, "Next": "Big"}]}
    assert run(sfn, choice, {"n": 11})["nextState"] == "Big"
    assert run(sfn, choice, {"n": 1})["nextState"] == "Small"


def test_a_fail_state_fails_with_its_error(sfn):
    r = run(sfn, {"Type": "Fail", "Error": "Nope", "Cause": "not today"}, {})
    assert (r["status"], r["error"], r["cause"]) == ("FAILED", "Nope", "not today")


def test_a_task_error_is_caught_or_retriable(sfn):
    # No Lambda endpoint is configured: the task fails with States.TaskFailed.
    task = {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:f", "End": True}
    caught = dict(task, Catch=[{"ErrorEquals": ["States.ALL"], "ResultPath": "$.err", "Next": "Recover"}])
    r = run(sfn, caught, {"k": 1})
    assert (r["status"], r["nextState"]) == ("CAUGHT_ERROR", "Recover")
    assert json.loads(r["output"])["err"]["Error"] == "States.TaskFailed"
    retried = dict(task, Retry=[{"ErrorEquals": ["States.TaskFailed"], "MaxAttempts": 3}])
    assert run(sfn, retried, {})["status"] == "RETRIABLE"
    assert run(sfn, task, {})["status"] == "FAILED"


def test_a_state_of_a_whole_machine_and_bad_definitions(sfn):
    machine = {"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "B"},
                                           "B": {"Type": "Pass", "Result": "b", "End": True}}}
    r = sfn.test_state(definition=json.dumps(machine), roleArn=ROLE, input="{}", stateName="B")
    assert (r["status"], json.loads(r["output"])) == ("SUCCEEDED", "b")
    with pytest.raises(sfn.exceptions.InvalidDefinition):
        run(sfn, {"Type": "Pass", "Next": 3}, {})
    with pytest.raises(sfn.exceptions.ValidationException):
        run(sfn, {"Type": "Parallel", "Branches": [], "End": True}, {})
