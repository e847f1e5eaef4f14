"""`stepwise serve --backend aws`: the same API over the serverless engine,
DynamoDB and SQS on a moto server this module starts, with boto3 and the
AWS CLI as clients."""
import json
import os
import subprocess
import time
import urllib.parse
import urllib.request
import uuid

import pytest

from conftest import ROLE, Server, client, wait_for


@pytest.fixture(scope="module")
def aws_server(moto):
    env = {
        "AWS_ENDPOINT_URL": moto, "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test", "AWS_REGION": "us-east-1",
    }
    s = Server(["--backend", "aws", "--create-resources", "--table", "api-tests",
                "--queue", "api-tests"], env=env).start()
    yield s
    s.stop()


@pytest.fixture
def sfn(aws_server):
    return client(aws_server.url)


CHAIN = {
    "StartAt": "Wait",
    "States": {
        "Wait": {"Type": "Wait", "Seconds": 1, "Next": "Shape"},
        "Shape": {"Type": "Pass", "Parameters": {"total.$": "States.MathAdd($.a, $.b)"}, "Next": "Fan"},
        "Fan": {"Type": "Parallel", "End": True, "Branches": [
            {"StartAt": "L", "States": {"L": {"Type": "Pass", "End": True}}},
            {"StartAt": "R", "States": {"R": {"Type": "Pass", "Result": "r", "End": True}}}]},
    },
}


def create(sfn, name, definition):
    return sfn.create_state_machine(
        name=name, definition=json.dumps(definition), roleArn=ROLE)["stateMachineArn"]


def test_an_execution_runs_through_dynamodb_and_sqs(sfn):
    arn = create(sfn, "chain", CHAIN)
    started = sfn.start_execution(stateMachineArn=arn, name="one", input='{"a": 2, "b": 3}')
    # Same name and input: the same execution.
    again = sfn.start_execution(stateMachineArn=arn, name="one", input='{"a": 2, "b": 3}')
    assert again["executionArn"] == started["executionArn"]
    with pytest.raises(sfn.exceptions.ExecutionAlreadyExists):
        sfn.start_execution(stateMachineArn=arn, name="one", input='{"a": 9}')
    d = wait_for(sfn, started["executionArn"], timeout=30)
    assert d["status"] == "SUCCEEDED"
    assert json.loads(d["output"]) == [{"total": 5}, "r"]
    events = sfn.get_execution_history(executionArn=started["executionArn"])["events"]
    kinds = [e["type"] for e in events]
    assert kinds[0] == "ExecutionStarted" and kinds[-1] == "ExecutionSucceeded"
    assert kinds.count("PassStateEntered") == 3
    assert [e["id"] for e in events] == list(range(1, len(events) + 1))
    reverse = sfn.get_execution_history(executionArn=started["executionArn"], reverseOrder=True)
    assert [e["id"] for e in reverse["events"]] == list(range(len(events), 0, -1))
    page = sfn.get_execution_history(executionArn=started["executionArn"], maxResults=2)
    assert len(page["events"]) == 2 and "nextToken" in page
    listed = sfn.list_executions(stateMachineArn=arn, statusFilter="SUCCEEDED")["executions"]
    assert [e["name"] for e in listed] == ["one"]


def test_stop_aborts_a_waiting_execution(sfn):
    arn = create(sfn, "sleeper", {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 3600, "End": True}}})
    e = sfn.start_execution(stateMachineArn=arn, name="nap")["executionArn"]
    sfn.stop_execution(executionArn=e, error="Manual", cause="no time")
    d = sfn.describe_execution(executionArn=e)
    assert (d["status"], d["error"], d["cause"]) == ("ABORTED", "Manual", "no time")
    deadline = time.time() + 10
    while time.time() < deadline:
        kinds = [x["type"] for x in sfn.get_execution_history(executionArn=e)["events"]]
        if "ExecutionAborted" in kinds:
            break
        time.sleep(0.2)
    assert kinds[-1] == "ExecutionAborted"


def test_errors_have_aws_shapes(sfn):
    missing = "arn:aws:states:us-east-1:123456789012:execution:ghost:none"
    with pytest.raises(sfn.exceptions.ExecutionDoesNotExist):
        sfn.describe_execution(executionArn=missing)
    with pytest.raises(sfn.exceptions.StateMachineDoesNotExist):
        sfn.start_execution(stateMachineArn="arn:aws:states:us-east-1:123456789012:stateMachine:ghost")
    with pytest.raises(sfn.exceptions.InvalidDefinition):
        sfn.create_state_machine(name="bad", definition='{"StartAt": "Nope", "States": {}}', roleArn=ROLE)
    with pytest.raises(sfn.exceptions.InvalidArn):
        sfn.describe_execution(executionArn="not-an-arn")


def test_the_rest_route_and_the_aws_cli(sfn, aws_server, moto):
    arn = create(sfn, "rest", {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})
    req = urllib.request.Request(
        aws_server.url + "/executions", method="POST",
        data=json.dumps({"stateMachineArn": arn, "name": "hooked", "input": {"from": "webhook"}}).encode(),
        headers={"Content-Type": "application/json"})
    started = json.load(urllib.request.urlopen(req))
    d = wait_for(sfn, started["executionArn"], timeout=30)
    assert json.loads(d["output"]) == {"from": "webhook"}
    quoted = urllib.parse.quote(started["executionArn"], safe="")
    described = json.load(urllib.request.urlopen(aws_server.url + "/executions/" + quoted))
    assert described["status"] == "SUCCEEDED"
    env = dict(os.environ, AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test", AWS_DEFAULT_REGION="us-east-1")
    out = subprocess.run(
        ["aws", "stepfunctions", "describe-execution", "--endpoint-url", aws_server.url,
         "--execution-arn", started["executionArn"], "--output", "json"],
        capture_output=True, text=True, env=env, check=True)
    assert json.loads(out.stdout)["status"] == "SUCCEEDED"


def test_a_human_approval_through_the_serverless_backend(sfn, aws_server, moto):
    import boto3
    sqs = boto3.client("sqs", endpoint_url=moto, region_name="us-east-1",
                       aws_access_key_id="test", aws_secret_access_key="test")
    url = sqs.create_queue(QueueName="serverless-approvals-" + uuid.uuid4().hex[:8])["QueueUrl"]
    arn = create(sfn, "approve", {
        "StartAt": "Ask",
        "States": {
            "Ask": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                    "Parameters": {"QueueUrl": url, "MessageBody": {"token.$": "$$.Task.Token"}},
                    "HeartbeatSeconds": 60, "ResultPath": "$.decision", "End": True}}})
    ex = sfn.start_execution(stateMachineArn=arn, input='{"order": 7}')["executionArn"]
    deadline = time.time() + 20
    messages = []
    while not messages and time.time() < deadline:
        messages = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages", [])
    token = json.loads(messages[0]["Body"])["token"]
    assert len(token) == 48
    with pytest.raises(sfn.exceptions.InvalidToken):
        sfn.send_task_success(taskToken="forged", output="{}")
    sfn.send_task_heartbeat(taskToken=token)
    # The REST callback route, as an approval link would call it.
    req = urllib.request.Request(
        aws_server.url + "/tasks/success", method="POST",
        data=json.dumps({"taskToken": token, "output": {"approved": True}}).encode(),
        headers={"Content-Type": "application/json"})
    assert json.load(urllib.request.urlopen(req)) == {}
    d = wait_for(sfn, ex, timeout=30)
    assert d["status"] == "SUCCEEDED", d
    assert json.loads(d["output"]) == {"order": 7, "decision": {"approved": True}}
    with pytest.raises(sfn.exceptions.TaskDoesNotExist):
        sfn.send_task_success(taskToken=token, output="{}")
