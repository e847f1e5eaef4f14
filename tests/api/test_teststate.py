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
    with pytest.raises(sfn.exceptions.InvalidDefinition):
        run(sfn, {"Type": "Parallel", "Branches": [], "End": True}, {})
    # Text that is not JSON: the parser's words, as CreateStateMachine's.
    with pytest.raises(sfn.exceptions.InvalidDefinition) as e:
        sfn.test_state(definition="not a definition", roleArn=ROLE)
    assert e.value.response["Error"]["Message"].startswith(
        "Invalid State Machine Definition: 'INVALID_JSON_DESCRIPTION: Unrecognized token 'not'"), e.value.response


def test_debug_inspection_shows_each_stage_of_the_data_flow(sfn):
    task = {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "InputPath": "$.order",
            "Parameters": {"FunctionName": "f", "Payload.$": "$"},
            "ResultSelector": {"total.$": "$.Payload.total"}, "ResultPath": "$.priced",
            "OutputPath": "$.priced", "End": True}
    # Lambda's model says Payload is a string: an object is mocked unchecked.
    mock = {"result": json.dumps({"StatusCode": 200, "Payload": {"total": 12}}), "fieldValidationMode": "NONE"}
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
                       mock={"result": json.dumps({"Payload": 4}), "fieldValidationMode": "NONE"})["inspectionData"]
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
    for cause, mock in (("Nowhere", boom), ("A", {"result": "[1, 2]"})):
        with pytest.raises(sfn.exceptions.ValidationException):
            test(cause, mock)


def refusal(sfn, exception, **kw):
    with pytest.raises(getattr(sfn.exceptions, exception)) as e:
        sfn.test_state(**kw)
    return e.value.response["Error"]["Message"]


EVENTS = {"Type": "Task", "Resource": "arn:aws:states:::events:putEvents",
          "Parameters": {"Entries": [{"Detail": "d", "DetailType": "t", "Source": "s"}]}, "End": True}
START = {"Type": "Task", "Resource": "arn:aws:states:::states:startExecution",
         "Parameters": {"StateMachineArn": "arn:aws:states:us-east-1:111111111111:stateMachine:T"}, "End": True}
LAMBDA = {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
          "Parameters": {"FunctionName": "f"}, "End": True}
DYNAMODB = {"Type": "Task", "Resource": "arn:aws:states:::dynamodb:putItem",
            "Parameters": {"TableName": "t", "Item": {"id": {"S": "1"}}}, "End": True}


def sdk(service, action):
    return {"Type": "Task", "Resource": f"arn:aws:states:::aws-sdk:{service}:{action}", "Parameters": {}, "End": True}


@pytest.mark.parametrize("state, result, message", [
    (EVENTS, {"Entries": "not a list"}, "Field 'Entries' must be an array"),
    (EVENTS, {"Entries": [{"EventId": ["a list"]}]}, "Field 'EventId' must be a string"),
    (EVENTS, {"Entries": [{"EventId": "fine"}, {"EventId": ["a list"]}]}, "Field 'EventId' must be a string"),
    (START, {}, "Required field 'ExecutionArn' is missing"),
    (START, {"executionArn": "a", "startDate": "b"}, "Required field 'ExecutionArn' is missing"),
    (START, {"ExecutionArn": "a", "StartDate": True}, "Field 'StartDate' must be a string"),
    (START, {"ExecutionArn": "a", "StartDate": 1764103483}, "Field 'StartDate' must be a string"),
    (LAMBDA, {"StatusCode": "200"}, "Field 'StatusCode' must be a number"),
    (LAMBDA, {"Payload": {"an": "object"}}, "Field 'Payload' must be a string"),
    (DYNAMODB, {"ConsumedCapacity": {"CapacityUnits": "123.45"}}, "Field 'CapacityUnits' must be a number"),
    (sdk("s3", "getObject"), {"ContentLength": "9000"}, "Field 'ContentLength' must be a number"),
    (sdk("s3", "getObject"), {"StorageClass": "Papyrus"}, "Field 'StorageClass' is not an expected value"),
    (sdk("kms", "encrypt"), {"CiphertextBlob": 123}, "Field 'CiphertextBlob' must be a string"),
    (sdk("kms", "encrypt"), {"CiphertextBlob": ""}, "Field 'CiphertextBlob' is smaller than the minimum length"),
    (sdk("lambda", "getFunction"), {"Configuration": {"MemorySize": 127}},
     "Field 'MemorySize' is less than the minimum value"),
])
def test_a_mocked_result_is_held_to_its_api_output_shape(sfn, state, result, message):
    """AWS's default (STRICT), recorded on AWS: the first field that does not
    conform to the API's model, or a required one that is missing."""
    got = refusal(sfn, "ValidationException", definition=json.dumps(state), input="{}",
                  mock={"result": json.dumps(result)})
    assert got == f"Mock result schema validation error: {message}"
    # NONE checks nothing: the mocked result is the state's output.
    r = sfn.test_state(definition=json.dumps(state), input="{}",
                       mock={"result": json.dumps(result), "fieldValidationMode": "NONE"})
    assert (r["status"], json.loads(r["output"])) == ("SUCCEEDED", result)


def test_fields_the_model_does_not_name_pass_and_present_skips_required_ones(sfn):
    def test(state, result, mode=None):
        mock = {"result": json.dumps(result)}
        if mode:
            mock["fieldValidationMode"] = mode
        return sfn.test_state(definition=json.dumps(state), input="{}", mock=mock)
    for result in ({"random": "json"}, {}, {"Entries": [{"EventId": "e"}], "FailedEntryCount": 0}):
        assert json.loads(test(EVENTS, result)["output"]) == result
    for result in ({}, {"executionArn": "a", "startDate": "b"}):
        assert json.loads(test(START, result, "PRESENT")["output"]) == result
    ok = {"ExecutionArn": "a", "StartDate": "2025-11-25T00:48:49.000Z"}
    assert json.loads(test(START, ok)["output"]) == ok
    for result, message in (({"StartDate": True}, "Field 'StartDate' must be a string"),
                            ({"ExecutionArn": 1764103483}, "Field 'ExecutionArn' must be a string")):
        got = refusal(sfn, "ValidationException", definition=json.dumps(START), input="{}",
                      mock={"result": json.dumps(result), "fieldValidationMode": "PRESENT"})
        assert got == f"Mock result schema validation error: {message}"
    # A result that is not an API's output (a function's own answer) is not checked.
    fn = {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:111111111111:function:f", "End": True}
    assert json.loads(test(fn, {"StatusCode": "any"})["output"]) == {"StatusCode": "any"}


def test_a_mock_is_refused_where_aws_refuses_one(sfn):
    def refused(state, exception="ValidationException", **kw):
        return refusal(sfn, exception, definition=json.dumps(state), input="{}", **kw)
    for kind in ("Pass", "Fail", "Succeed"):
        for mock in ({"result": "{}"}, {"errorOutput": {"error": "E", "cause": "C"}}):
            assert refused({"Type": kind, "End": True} if kind == "Pass" else {"Type": kind}, mock=mock) == \
                f"State type '{kind}' is not supported when a mock is specified"
    assert refused(LAMBDA, mock={"result": "{}", "errorOutput": {"error": "E"}}) == \
        "A test mock should have only one of the following fields: [result, errorOutput]."
    assert refused(LAMBDA, mock={"result": "{}"}, revealSecrets=True) == \
        "TestState does not support RevealSecrets when a mock is specified."
    inline = {"Type": "Map", "End": True, "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}}
    two = {"Type": "Parallel", "End": True, "Branches": [
        {"StartAt": n, "States": {n: {"Type": "Pass", "End": True}}} for n in ("A", "B")]}
    for state in (inline, two):
        assert refused(state, "InvalidDefinition", roleArn=ROLE) == (
            "TestState API does not support Map or Parallel states. "
            "Supported state types include: [Task, Wait, Pass, Succeed, Fail, Choice]")
    assert refused(inline, mock={"result": "{}"}) == "Mocked result must be an array."
    written = dict(inline, ItemReader={"Resource": "arn:aws:states:::s3:listObjectsV2", "Parameters": {"Bucket": "b"}},
                   ResultWriter={"Resource": "arn:aws:states:::s3:putObject", "Parameters": {"Bucket": "b", "Prefix": "p"}})
    written["ItemProcessor"] = dict(inline["ItemProcessor"], ProcessorConfig={"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"})
    assert refused(written, mock={"result": "[]"}) == "Mocked result must be a JSON object."
    assert refused(two, mock={"result": "{}"}) == "Mocked result must be an array."
    # AWS's words, without a parser's detail (recorded on AWS).
    assert refused(LAMBDA, mock={"result": "{not json"}) == "Mocked result must be valid JSON"
    assert refused(two, mock={"result": "[1]"}) == \
        "Mocked result must contain the same number of items as number of Parallel branches."
    r = sfn.test_state(definition=json.dumps(two), input="{}", mock={"result": "[1, 2]"})
    assert (r["status"], json.loads(r["output"])) == ("SUCCEEDED", [1, 2])


def test_only_a_task_needs_a_role_and_a_state_name_is_found_at_any_depth(sfn):
    """AWS runs Pass, Choice, Fail and Succeed without a roleArn; we asked
    for one for every state. A stateName inside a Map's item processor is
    a state of the machine too (we said it was not)."""
    def test(state, **kw):
        return sfn.test_state(definition=json.dumps(state), input='{"n": 1}', **kw)
    assert test({"Type": "Pass", "End": True})["status"] == "SUCCEEDED"
    assert test({"Type": "Choice", "Choices": [{"Variable": "$.n", "NumericEquals": 1, "Next": "A"}],
                 "Default": "B"})["nextState"] == "A"
    assert test({"Type": "Fail", "Error": "E"})["status"] == "FAILED"
    assert refusal(sfn, "ValidationException", definition=json.dumps(LAMBDA), input="{}") == \
        "RoleArn must be specified when testing a Task state"
    machine = {"StartAt": "M", "States": {"M": {"Type": "Map", "End": True, "ItemProcessor": {
        "StartAt": "HandleItem", "States": {"HandleItem": {"Type": "Pass", "Result": "handled", "End": True}}}}}}
    r = sfn.test_state(definition=json.dumps(machine), input="{}", stateName="HandleItem")
    assert (r["status"], json.loads(r["output"])) == ("SUCCEEDED", "handled")
    assert refusal(sfn, "ValidationException", definition=json.dumps(machine), input="{}",
                   stateName="dne") == "State not found in definition"


def test_a_given_context_object_is_the_states_context(sfn):
    """TestState's `context` was not read: `$$` was always our own."""
    given = {"Execution": {"Id": "arn:aws:states:us-east-1:111111111111:execution:M:e", "Name": "e",
                           "Input": {"values": ["a", "b"]}, "RoleArn": "arn:aws:iam::111111111111:role/R",
                           "StartTime": "2025-01-15T10:30:00.000Z"},
             "State": {"Name": "MyTask", "EnteredTime": "2025-01-15T10:30:01.500Z", "RetryCount": 0},
             "StateMachine": {"Id": "arn:aws:states:us-east-1:111111111111:stateMachine:M", "Name": "M"}}
    whole = {"Type": "Pass", "Parameters": {"c.$": "$$", "v.$": "$$.Execution.Input.values"}, "End": True}
    r = sfn.test_state(definition=json.dumps(whole), input="{}", context=json.dumps(given))
    assert json.loads(r["output"]) == {"c": given, "v": ["a", "b"]}
    r = sfn.test_state(definition=json.dumps(whole), input="{}", context="{}")
    assert r["status"] == "FAILED"  # $$ is {}: it has no Execution.Input
    mocked = {"result": json.dumps({"ExecutionArn": "a", "StartDate": "2025-01-15T10:30:00.000Z"})}
    for context, why in (({"Execution": {"Id": 1}}, "Execution.Id must be a string"),
                         ({"Map": {}}, "'Map' field is not supported when mocking a Context object"),
                         ({"Execution": {"pokemon": "squirtle"}}, "Field 'pokemon' is not allowed"),
                         ({"Pokedex": {}}, "Field 'Pokedex' is not allowed"),
                         ({"Task": {"Token": "abcd123"}}, "Context object contains 'Task' when state is not a "
                          "Task state with a '.sync' or '.waitForTaskToken' service integration pattern")):
        assert refusal(sfn, "ValidationException", definition=json.dumps(START), input="{}", mock=mocked,
                       context=json.dumps(context)) == f"Invalid Context object provided: {why}"
    # A Map whose items path names no array fails as AWS words it: the path
    # from its document's root, and no event id (a state tested alone has
    # no history). Recorded on AWS: LocalStack's test_state_map_context_object.
    for path, named in (("$$", "$"), ("$$.Execution.Input", "$.Execution.Input")):
        items = {"Type": "Map", "ItemsPath": path, "End": True,
                 "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}}
        r = sfn.test_state(definition=json.dumps(items), input='["fire"]', context=json.dumps(given),
                           mock={"result": "[1]"})
        assert (r["status"], r["error"], r["cause"]) == \
            ("FAILED", "States.Runtime", f'Reference path "{named}" must point to array.')
    # Its inspection data sees the same context (no task token added).
    seen = dict(LAMBDA, ResultSelector={"c.$": "$$"})
    r = sfn.test_state(definition=json.dumps(seen), input="{}", inspectionLevel="TRACE", context=json.dumps(given),
                       mock={"result": "{}"})
    assert json.loads(r["inspectionData"]["afterResultSelector"]) == {"c": given}
    wait = {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken", "End": True,
            "Parameters": {"QueueUrl": "q", "MessageBody": {"TaskToken.$": "$$.Task.Token"}}}
    r = sfn.test_state(definition=json.dumps(wait), input="{}", inspectionLevel="TRACE",
                       context=json.dumps({"Task": {"Token": "abcd123"}}), mock={"result": '{"ok": true}'})
    assert json.loads(r["inspectionData"]["afterParameters"])["MessageBody"] == {"TaskToken": "abcd123"}


def test_the_made_context_is_an_express_executions_with_the_requests_role(sfn):
    state = {"Type": "Pass", "Parameters": {"e.$": "$$.Execution"}, "End": True}
    e = json.loads(sfn.test_state(definition=json.dumps(state), input="{}", roleArn=ROLE)["output"])["e"]
    assert ":express:" in e["Id"] and "RedriveCount" not in e and e["RoleArn"] == ROLE
    e = json.loads(sfn.test_state(definition=json.dumps(state), input="{}")["output"])["e"]
    assert e["RoleArn"] is None
    # The state is "StateName" to `$$`, whatever it is called (recorded on
    # AWS: LocalStack's TestState tests, stateName "State0" included).
    named = {"Type": "Pass", "Parameters": {"n.$": "$$.State.Name"}, "End": True}
    r = sfn.test_state(definition=json.dumps(named), input="{}")
    assert json.loads(r["output"]) == {"n": "StateName"}
    machine = {"StartAt": "State0", "States": {"State0": named}}
    r = sfn.test_state(definition=json.dumps(machine), input="{}", stateName="State0")
    assert json.loads(r["output"]) == {"n": "StateName"}


def test_inspection_data_shows_the_stages_aws_shows(sfn):
    def data(state, data_in, **kw):
        r = sfn.test_state(definition=json.dumps(state), input=json.dumps(data_in), inspectionLevel="DEBUG", **kw)
        return r["inspectionData"]
    io = {"InputPath": "$.a", "Parameters": {"x.$": "$.b"}, "ResultPath": "$.out", "End": True}
    assert set(data(dict(io, Type="Pass", Result={"r": 1}), {"a": {"b": 2}})) == \
        {"input", "result", "afterResultSelector", "afterResultPath"}
    assert set(data(dict(io, Type="Pass"), {"a": {"b": 2}})) == \
        {"input", "afterInputPath", "afterParameters", "afterResultSelector", "afterResultPath"}
    choice = {"Type": "Choice", "InputPath": "$.a", "Default": "D",
              "Choices": [{"Variable": "$.b", "NumericEquals": 2, "Next": "Two"}]}
    assert set(data(choice, {"a": {"b": 2}})) == {"input", "afterInputPath"}
    inline = {"Type": "Map", "ItemsPath": "$.items", "End": True,
              "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}}
    seen = data(inline, {"items": [1, 2]}, mock={"result": "[1, 2]"})
    assert seen["maxConcurrency"] == 0 and json.loads(seen["afterItemsPath"]) == [1, 2]
    assert not {"afterParameters", "result"} & set(seen)
    # A callback's stages, with the token its request went out with.
    wait = {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken", "ResultPath": "$.SQS",
            "Parameters": {"QueueUrl": "q", "MessageBody": {"TaskToken.$": "$$.Task.Token"}}, "End": True}
    seen = data(wait, {}, mock={"result": '{"ok": true}'})
    token = json.loads(seen["afterParameters"])["MessageBody"]["TaskToken"]
    assert len(token) >= 32 and json.loads(seen["afterResultPath"]) == {"SQS": {"ok": True}}, seen
    # A retrier that applied, its attempts used up.
    flaky = dict(LAMBDA, Retry=[{"ErrorEquals": ["Boom"], "MaxAttempts": 2}])
    r = sfn.test_state(definition=json.dumps(flaky), input="{}", inspectionLevel="DEBUG",
                       mock={"errorOutput": {"error": "Boom", "cause": "no"}},
                       stateConfiguration={"retrierRetryCount": 2})
    assert (r["status"], r["inspectionData"]["errorDetails"]) == ("FAILED", {"retryIndex": 0})


def test_failed_iterations_count_only_against_a_tolerance_the_map_declares(sfn):
    inline = {"Type": "Map", "End": True,
              "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}}
    def run_map(state):
        return sfn.test_state(definition=json.dumps(state), input="[1, 2, 3]", mock={"result": "[0, 0, 1]"},
                              stateConfiguration={"mapIterationFailureCount": 2})
    r = run_map(inline)
    assert (r["status"], json.loads(r["output"])) == ("SUCCEEDED", [0, 0, 1])
    r = run_map(dict(inline, ToleratedFailureCount=1))
    assert (r["status"], r["error"]) == ("FAILED", "States.ExceedToleratedFailureThreshold")


def test_a_state_inside_the_tested_map_may_be_called_teststate(sfn):
    """AWS's own examples name the Map's inner state "TestState"; we called
    that a duplicate state name."""
    m = {"Type": "Map", "ItemsPath": "$.xs", "MaxConcurrency": 1, "End": True,
         "ItemProcessor": {"StartAt": "TestState", "States": {"TestState": {"Type": "Pass", "End": True}}}}
    r = sfn.test_state(definition=json.dumps(m), input=json.dumps({"xs": [1, 2, 3]}), inspectionLevel="DEBUG",
                       mock={"result": json.dumps([1, 1, 1])})
    assert (r["status"], json.loads(r["output"])) == ("SUCCEEDED", [1, 1, 1]), r
    assert r["inspectionData"]["maxConcurrency"] == 1


def test_a_state_of_no_known_type_is_an_invalid_definition_in_awss_words(sfn):
    """Recorded on AWS (LocalStack's test_state_name_invalid_state_definition);
    we answered a ValidationException of our own."""
    machine = {"StartAt": "Broken", "States": {"Broken": {"Type": "TypeThatDoesNotExist", "End": True}}}
    with pytest.raises(sfn.exceptions.InvalidDefinition) as e:
        sfn.test_state(definition=json.dumps(machine), stateName="Broken", input="{}")
    assert e.value.response["Error"]["Message"] == (
        "Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: The field 'Type' should have one of these "
        "values: [Task, Wait, Pass, Succeed, Fail, Choice, Parallel, Map] at /States/Broken/Type'")
