"""One implementation of each action: the same calls, the same answers, on
both `stepwise serve` backends (embedded SQLite; `--backend aws` on moto).
Each test here is a regression test for a way the backends once differed."""
import base64
import json
import os
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
import uuid

import pytest
from botocore.exceptions import ClientError

from conftest import BACKENDS, BINARY, ROLE, client, serve_on, wait_for

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


@pytest.fixture(scope="module", params=BACKENDS)
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


def test_creating_again_answers_with_what_exists_as_aws_documents(backend):
    """CreateStateMachine is idempotent on the name, definition, type,
    logging, tracing and encryption (a different roleArn or tags are
    ignored, not applied), and, for a call that publishes, on the version
    and its description; CreateActivity on the name, unless it asks for
    another encryption. We refused another role and answered a repeated
    publish without its version; an activity took any encryption again."""
    name = fresh()
    first = backend.create_state_machine(name=name, roleArn=ROLE, definition=json.dumps(PASS),
                                         publish=True, versionDescription="one")
    arn, v1 = first["stateMachineArn"], first["stateMachineVersionArn"]
    other_role = ROLE + "-other"
    again = backend.create_state_machine(name=name, roleArn=other_role, definition=json.dumps(PASS),
                                         publish=True, versionDescription="one",
                                         tags=[{"key": "k", "value": "v"}])
    assert (again["stateMachineArn"], again["stateMachineVersionArn"]) == (arn, v1)
    assert again["creationDate"] == first["creationDate"]
    assert backend.describe_state_machine(stateMachineArn=arn)["roleArn"] == ROLE
    assert backend.list_tags_for_resource(resourceArn=arn)["tags"] == []
    plain = backend.create_state_machine(name=name, roleArn=ROLE, definition=json.dumps(PASS))
    assert plain["stateMachineArn"] == arn and "stateMachineVersionArn" not in plain
    for changed in ({"publish": True, "versionDescription": "two"},
                    {"tracingConfiguration": {"enabled": True}},
                    {"definition": json.dumps(WAIT)}):
        kw = {"name": name, "roleArn": ROLE, "definition": json.dumps(PASS), **changed}
        with pytest.raises(backend.exceptions.StateMachineAlreadyExists):
            backend.create_state_machine(**kw)
    assert [v["stateMachineVersionArn"] for v in
            backend.list_state_machine_versions(stateMachineArn=arn)["stateMachineVersions"]] == [v1]
    assert backend.describe_state_machine(stateMachineArn=arn)["tracingConfiguration"] == {"enabled": False}
    key = {"type": "CUSTOMER_MANAGED_KMS_KEY", "kmsKeyId": "alias/mine", "kmsDataKeyReusePeriodSeconds": 300}
    activity = fresh("a")
    made = backend.create_activity(name=activity, encryptionConfiguration=key)
    assert backend.create_activity(name=activity, encryptionConfiguration=key,
                                   tags=[{"key": "k", "value": "v"}])["activityArn"] == made["activityArn"]
    # (Its data key's reuse period is 300 s, said or not.)
    unsaid = {k: v for k, v in key.items() if k != "kmsDataKeyReusePeriodSeconds"}
    assert backend.create_activity(name=activity, encryptionConfiguration=unsaid)["activityArn"] == made["activityArn"]
    with pytest.raises(backend.exceptions.ActivityAlreadyExists):
        backend.create_activity(name=activity)
    assert backend.describe_activity(activityArn=made["activityArn"])["encryptionConfiguration"] == key


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
    # The isolated regions' partitions (moto's suite; we said aws).
    for region, partition in [("us-isob-east-1", "aws-iso-b"), ("us-iso-east-1", "aws-iso"),
                              ("us-gov-west-1", "aws-us-gov")]:
        made = client(url, region).create_state_machine(name=name, roleArn=ROLE, definition=json.dumps(PASS))
        assert made["stateMachineArn"].startswith(f"arn:{partition}:states:{region}:"), made


@pytest.mark.parametrize("kind", BACKENDS)
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
    with pytest.raises(backend.exceptions.InvalidDefinition):
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


def activity_machine(sfn, states, start):
    activity = sfn.create_activity(name=fresh("act"))["activityArn"]
    text = json.dumps({"StartAt": start, "States": states}).replace("ACTIVITY", activity)
    arn = sfn.create_state_machine(name=fresh(), roleArn=ROLE, definition=text)["stateMachineArn"]
    return activity, arn


def test_an_activity_starts_when_a_worker_takes_it_on_both_backends(backend):
    """ActivityStarted means a worker took the task (GetActivityTask), and
    names it, as AWS records it. We wrote it with ActivityScheduled, before
    any worker had polled, and without its details."""
    activity, arn = activity_machine(backend, {"Work": {"Type": "Task", "Resource": "ACTIVITY", "End": True}}, "Work")
    for worker, details in (("BASE_ID_ACTIVITY_CONSUMER", {"workerName": "BASE_ID_ACTIVITY_CONSUMER"}), (None, {})):
        ex = backend.start_execution(stateMachineArn=arn, input='{"job": 1}')["executionArn"]
        deadline = time.time() + 10
        while "ActivityScheduled" not in [e["type"] for e in backend.get_execution_history(executionArn=ex)["events"]]:
            assert time.time() < deadline
            time.sleep(0.1)
        assert "ActivityStarted" not in [e["type"] for e in backend.get_execution_history(executionArn=ex)["events"]]
        task = backend.get_activity_task(activityArn=activity, **({"workerName": worker} if worker else {}))
        backend.send_task_success(taskToken=task["taskToken"], output='{"done": true}')
        assert wait_for(backend, ex, timeout=30)["status"] == "SUCCEEDED"
        events = backend.get_execution_history(executionArn=ex)["events"]
        kinds = [e["type"] for e in events]
        assert kinds[kinds.index("ActivityScheduled"):kinds.index("ActivityScheduled") + 3] == \
            ["ActivityScheduled", "ActivityStarted", "ActivitySucceeded"], kinds
        started = events[kinds.index("ActivityStarted")]
        assert started["activityStartedEventDetails"] == details


def test_a_task_of_a_missing_activity_fails_the_execution_on_both_backends(backend):
    """AWS fails a Task whose activity was deleted (or never created) at
    once, with States.Runtime. Ours scheduled it and waited for ever."""
    activity, arn = activity_machine(backend, {"ActivityTask": {"Type": "Task", "Resource": "ACTIVITY", "End": True}},
                                     "ActivityTask")
    backend.delete_activity(activityArn=activity)
    ex = backend.start_execution(stateMachineArn=arn, input='{"Value1": 1}')["executionArn"]
    d = wait_for(backend, ex, timeout=30)
    cause = (f"An error occurred while executing the state 'ActivityTask' (entered at the event id #2). "
             f"The activity {activity} does not exist.")
    assert (d["status"], d["error"], d["cause"]) == ("FAILED", "States.Runtime", cause)
    events = backend.get_execution_history(executionArn=ex)["events"]
    assert [(e["type"], e["previousEventId"]) for e in events] == \
        [("ExecutionStarted", 0), ("TaskStateEntered", 0), ("ExecutionFailed", 2)]


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
    with pytest.raises(backend.exceptions.TaskTimedOut) as e:
        backend.send_task_success(taskToken=task["taskToken"], output="{}")
    assert e.value.response["Error"]["Message"] == "Task Timed Out: 'Provided task does not exist anymore'"
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
        backend.send_task_failure(taskToken="NotOurs", error="E")


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
    assert d["status"] == "TIMED_OUT"
    assert 3.5 <= (d["stopDate"] - redriven).total_seconds() < 6


def test_mocked_responses_are_counted_per_execution(backend):
    """A mock configuration's invocation numbers count within an execution,
    as Step Functions Local counts them: every execution of the test case
    meets `FailsOnce`'s failure first. The server once counted across its
    executions, so only the first one failed."""
    machine = {"StartAt": "Flaky", "States": {"Flaky": {
        "Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:f",
        "Retry": [{"ErrorEquals": ["Flaky.Boom"], "IntervalSeconds": 1, "MaxAttempts": 1}],
        "End": True}}}
    arn = create(backend, machine)["stateMachineArn"]
    for _ in range(2):
        ex = backend.start_execution(stateMachineArn=arn)["executionArn"]
        d = wait_for(backend, ex)
        assert (d["status"], json.loads(d["output"])) == ("SUCCEEDED", {"y": 2})
        kinds = [e["type"] for e in backend.get_execution_history(executionArn=ex)["events"]]
        assert kinds.count("LambdaFunctionFailed") == 1, kinds


def test_an_input_and_an_output_near_the_limit_are_both_kept(backend):
    """An execution whose input and output are near 256 KiB each, and do
    not compress: DescribeExecution gives both back and the history begins
    with the input. The serverless backend kept the input twice and the
    output beside them in one 400 KB item: the execution "succeeded"
    without its output."""
    blob = base64.b64encode(os.urandom(190_000)).decode()  # 253 KB, random
    arn = create(backend, {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})["stateMachineArn"]
    ex = backend.start_execution(stateMachineArn=arn, input=json.dumps({"b": blob}))["executionArn"]
    d = wait_for(backend, ex, timeout=60)
    assert d["status"] == "SUCCEEDED", (d.get("error"), d.get("cause"))
    assert json.loads(d["output"]) == {"b": blob} == json.loads(d["input"])
    assert "stopDate" in d
    events = backend.get_execution_history(executionArn=ex)["events"]
    assert json.loads(events[0]["executionStartedEventDetails"]["input"]) == {"b": blob}
    assert events[-1]["type"] == "ExecutionSucceeded"
