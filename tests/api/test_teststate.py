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
    # No Lambda function f: the task fails (States.TaskFailed with no Lambda
    # endpoint; Lambda.ResourceNotFoundException from moto's Lambda).
    task = {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:f", "End": True}
    caught = dict(task, Catch=[{"ErrorEquals": ["States.ALL"], "ResultPath": "$.err", "Next": "Recover"}])
    r = run(sfn, caught, {"k": 1})
    assert (r["status"], r["nextState"]) == ("CAUGHT_ERROR", "Recover")
    assert json.loads(r["output"])["err"]["Error"] in ("States.TaskFailed", "Lambda.ResourceNotFoundException")
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


def test_debug_inspection_shows_each_stage_of_the_data_flow(sfn):
    task = {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "InputPath": "$.order",
            "Parameters": {"FunctionName": "f", "Payload.$": "$"},
            "ResultSelector": {"total.$": "$.Payload.total"}, "ResultPath": "$.priced",
            "OutputPath": "$.priced", "End": True}
    mock = {"result": json.dumps({"StatusCode": 200, "Payload": {"total": 12}})}
    data = {"order": {"id": 7}, "other": 1}
    r = sfn.test_state(definition=json.dumps(task), input=json.dumps(data), inspectionLevel="DEBUG",
                       mock=mock, variables=json.dumps({"x": 1}))
    d = {k: json.loads(v) for k, v in r["inspectionData"].items() if isinstance(v, str)}
    assert d == {
        "input": data,
        "afterInputPath": {"id": 7},
        "afterParameters": {"FunctionName": "f", "Payload": {"id": 7}},
        "result": {"StatusCode": 200, "Payload": {"total": 12}},
        "afterResultSelector": {"total": 12},
        "afterResultPath": {"order": {"id": 7}, "other": 1, "priced": {"total": 12}},
        "variables": {"x": 1},
    }
    assert json.loads(r["output"]) == {"total": 12}
    with pytest.raises(sfn.exceptions.ValidationException):
        sfn.test_state(definition=json.dumps(task), input=json.dumps(data), mock=mock, inspectionLevel="LOUD")
    # At INFO (the default) there is no inspection data.
    assert "inspectionData" not in sfn.test_state(definition=json.dumps(task), input=json.dumps(data), mock=mock)
    # A Pass state's result is its Result.
    p = run(sfn, {"Type": "Pass", "InputPath": "$.order", "Result": {"r": 1}, "ResultPath": "$.res", "End": True},
            data, inspectionLevel="TRACE")["inspectionData"]
    assert (json.loads(p["result"]), json.loads(p["afterResultPath"])) == ({"r": 1}, dict(data, res={"r": 1}))


def test_debug_inspection_of_jsonata_and_of_errors(sfn):
    ata = {"QueryLanguage": "JSONata", "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
           "Arguments": {"FunctionName": "f", "Payload": "{% $states.input.n * 2 %}"},
           "Assign": {"doubled": "{% $states.result.Payload %}"}, "End": True}
    r = sfn.test_state(definition=json.dumps(ata), input='{"n": 2}', inspectionLevel="DEBUG",
                       mock={"result": json.dumps({"Payload": 4})})["inspectionData"]
    assert json.loads(r["afterArguments"]) == {"FunctionName": "f", "Payload": 4}
    assert json.loads(r["result"]) == {"Payload": 4}
    assert json.loads(r["variables"]) == {"doubled": 4}
    assert "afterInputPath" not in r
    task = {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:f", "End": True,
            "Retry": [{"ErrorEquals": ["Other"]},
                      {"ErrorEquals": ["Boom"], "IntervalSeconds": 2, "BackoffRate": 3, "MaxAttempts": 5}],
            "Catch": [{"ErrorEquals": ["Other"], "Next": "A"}, {"ErrorEquals": ["Boom"], "Next": "B"}]}
    boom = {"errorOutput": {"error": "Boom", "cause": "bad"}}
    r = sfn.test_state(definition=json.dumps(task), input="{}", inspectionLevel="DEBUG", mock=boom,
                       stateConfiguration={"retrierRetryCount": 1})
    assert r["status"] == "RETRIABLE"
    assert r["inspectionData"]["errorDetails"] == {"retryIndex": 1, "retryBackoffIntervalSeconds": 6}
    r = sfn.test_state(definition=json.dumps(task), input="{}", inspectionLevel="DEBUG", mock=boom,
                       stateConfiguration={"retrierRetryCount": 5})
    assert (r["status"], r["nextState"]) == ("CAUGHT_ERROR", "B")
    assert r["inspectionData"]["errorDetails"] == {"catchIndex": 1}


def test_a_mocked_map_shows_its_items_and_fails_past_its_tolerance(sfn):
    m = {"Type": "Map", "ItemsPath": "$.xs", "ItemSelector": {"v.$": "$$.Map.Item.Value", "k.$": "$.k"},
         "MaxConcurrency": 2, "ToleratedFailureCount": 1, "ResultPath": "$.out", "End": True,
         "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}}
    data = {"xs": [10, 20, 30], "k": "a"}

    def test(**kw):
        return sfn.test_state(definition=json.dumps(m), input=json.dumps(data), inspectionLevel="DEBUG",
                              mock={"result": json.dumps([1, 2, 3])}, **kw)
    r = test()
    assert r["status"] == "SUCCEEDED" and json.loads(r["output"]) == dict(data, out=[1, 2, 3])
    d = r["inspectionData"]
    assert json.loads(d["afterItemsPath"]) == [10, 20, 30]
    assert json.loads(d["afterItemSelector"]) == [{"v": 10, "k": "a"}, {"v": 20, "k": "a"}, {"v": 30, "k": "a"}]
    assert (d["toleratedFailureCount"], d["maxConcurrency"]) == (1, 2)
    assert test(stateConfiguration={"mapIterationFailureCount": 1})["status"] == "SUCCEEDED"
    r = test(stateConfiguration={"mapIterationFailureCount": 2})
    assert (r["status"], r["error"]) == ("FAILED", "States.ExceedToleratedFailureThreshold")
    batched = dict(m, ItemBatcher={"MaxItemsPerBatch": 2})
    del batched["ItemSelector"]
    batched["ItemProcessor"] = dict(m["ItemProcessor"], ProcessorConfig={"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"})
    r = sfn.test_state(definition=json.dumps(batched), input=json.dumps(data), inspectionLevel="DEBUG",
                       mock={"result": "[]"})
    assert json.loads(r["inspectionData"]["afterItemBatcher"]) == [{"Items": [10, 20]}, {"Items": [30]}]


def test_a_mocked_map_reads_its_item_reader_data(sfn):
    m = {"Type": "Map", "End": True,
         "ItemReader": {"Resource": "arn:aws:states:::s3:getObject",
                        "ReaderConfig": {"InputType": "CSV", "CSVHeaderLocation": "FIRST_ROW", "MaxItems": 2},
                        "Parameters": {"Bucket": "b", "Key": "k.csv"}},
         "ItemSelector": {"name.$": "$$.Map.Item.Value.name"},
         "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                           "StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}}
    r = sfn.test_state(definition=json.dumps(m), input="{}", inspectionLevel="DEBUG", mock={"result": "[]"},
                       stateConfiguration={"mapItemReaderData": "name,n\nada,1\nbob,2\ncy,3\n"})
    assert r["status"] == "SUCCEEDED"
    assert json.loads(r["inspectionData"]["afterItemSelector"]) == [{"name": "ada"}, {"name": "bob"}]
    pointed = dict(m, ItemReader=dict(m["ItemReader"], ReaderConfig={"InputType": "JSON", "ItemsPointer": "/rows"}))
    r = sfn.test_state(definition=json.dumps(pointed), input="{}", inspectionLevel="DEBUG", mock={"result": "[]"},
                       stateConfiguration={"mapItemReaderData": json.dumps({"rows": [{"name": "z"}]})})
    assert json.loads(r["inspectionData"]["afterItemsPointer"]) == [{"name": "z"}]
    r = sfn.test_state(definition=json.dumps(m), input="{}", mock={"result": "[]"})
    assert (r["status"], r["error"]) == ("FAILED", "States.ItemReaderFailed")


def test_error_caused_by_state_names_a_state_inside_the_map_or_parallel(sfn):
    par = {"Type": "Parallel", "End": True, "Branches": [
        {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}},
        {"StartAt": "B", "States": {"B": {"Type": "Map", "End": True, "ItemProcessor": {
            "StartAt": "Deep", "States": {"Deep": {"Type": "Pass", "End": True}}}}}}]}
    boom = {"errorOutput": {"error": "Boom", "cause": "deep down"}}

    def test(cause, mock=boom):
        return sfn.test_state(definition=json.dumps(par), input="{}", mock=mock,
                              stateConfiguration={"errorCausedByState": cause})
    r = test("Deep")
    assert (r["status"], r["error"], r["cause"]) == ("FAILED", "Boom", "deep down")
    for cause, mock in (("Nowhere", boom), ("A", {"result": "[]"})):
        with pytest.raises(sfn.exceptions.ValidationException):
            test(cause, mock)
