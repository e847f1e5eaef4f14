"""Service integrations in `stepwise serve` (embedded), against moto server:
a human approval over SQS with a task token answered from the AWS CLI, and
DynamoDB items with a service error caught by name."""
import json
import os
import subprocess
import time

import boto3
import pytest

from conftest import ROLE, Server, client, wait_for

AWS = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_REGION": "us-east-1",
       "AWS_DEFAULT_REGION": "us-east-1"}


@pytest.fixture(scope="module")
def served(moto):
    s = Server(["--in-memory"], env=dict(AWS, AWS_ENDPOINT_URL=moto)).start()
    yield s
    s.stop()


def aws(moto, service):
    return boto3.client(service, endpoint_url=moto, region_name="us-east-1",
                        aws_access_key_id="test", aws_secret_access_key="test")


def test_human_approval_over_sqs_and_the_aws_cli(served, moto):
    sqs = aws(moto, "sqs")
    url = sqs.create_queue(QueueName="approvals")["QueueUrl"]
    sfn = client(served.url)
    machine = sfn.create_state_machine(name="approval", roleArn=ROLE, definition=json.dumps({
        "StartAt": "Ask",
        "States": {
            "Ask": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                    "Parameters": {"QueueUrl": url,
                                   "MessageBody": {"token.$": "$$.Task.Token", "order.$": "$.order"}},
                    "ResultPath": "$.decision", "Next": "Done"},
            "Done": {"Type": "Succeed"}}}))["stateMachineArn"]
    ex = sfn.start_execution(stateMachineArn=machine, input='{"order": 42}')["executionArn"]
    # The approver's worker reads the request and answers with the AWS CLI.
    deadline = time.time() + 10
    messages = []
    while not messages and time.time() < deadline:
        messages = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages", [])
    request = json.loads(messages[0]["Body"])
    assert request["order"] == 42
    assert sfn.describe_execution(executionArn=ex)["status"] == "RUNNING"
    env = dict(os.environ, **AWS)
    subprocess.run(["aws", "stepfunctions", "send-task-success", "--endpoint-url", served.url,
                    "--task-token", request["token"], "--task-output", '{"approved": true}'],
                   env=env, check=True, capture_output=True)
    d = wait_for(sfn, ex)
    assert d["status"] == "SUCCEEDED"
    assert json.loads(d["output"]) == {"order": 42, "decision": {"approved": True}}


def test_dynamodb_items_and_a_service_error_caught_by_name(served, moto):
    ddb = aws(moto, "dynamodb")
    ddb.create_table(TableName="orders", BillingMode="PAY_PER_REQUEST",
                     AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                     KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}])
    sfn = client(served.url)
    put = {"Type": "Task", "Resource": "arn:aws:states:::dynamodb:putItem",
           "Parameters": {"TableName": "orders", "Item": {"id": {"S.$": "$.id"}, "qty": {"N": "3"}},
                          "ConditionExpression": "attribute_not_exists(id)"},
           "ResultPath": None}
    machine = sfn.create_state_machine(name="orders", roleArn=ROLE, definition=json.dumps({
        "StartAt": "Put",
        "States": {
            "Put": dict(put, Next="Get", Catch=[{
                "ErrorEquals": ["DynamoDB.ConditionalCheckFailedException"],
                "ResultPath": "$.error", "Next": "Duplicate"}]),
            "Get": {"Type": "Task", "Resource": "arn:aws:states:::dynamodb:getItem",
                    "Parameters": {"TableName": "orders", "Key": {"id": {"S.$": "$.id"}}},
                    "OutputPath": "$.Item", "End": True},
            "Duplicate": {"Type": "Pass", "Result": "duplicate", "End": True}}}))["stateMachineArn"]
    first = wait_for(sfn, sfn.start_execution(stateMachineArn=machine, input='{"id": "a1"}')["executionArn"])
    assert first["status"] == "SUCCEEDED", first
    assert json.loads(first["output"]) == {"id": {"S": "a1"}, "qty": {"N": "3"}}
    again = wait_for(sfn, sfn.start_execution(stateMachineArn=machine, input='{"id": "a1"}')["executionArn"])
    assert json.loads(again["output"]) == "duplicate"
    item = ddb.get_item(TableName="orders", Key={"id": {"S": "a1"}})["Item"]
    assert item["qty"] == {"N": "3"}


def test_a_missing_queue_fails_with_the_sqs_error_name(served, moto):
    sfn = client(served.url)
    machine = sfn.create_state_machine(name="lost", roleArn=ROLE, definition=json.dumps({
        "StartAt": "Send", "States": {"Send": {
            "Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage",
            "Parameters": {"QueueUrl": moto + "/123456789012/nowhere", "MessageBody": "hi"},
            "End": True}}}))["stateMachineArn"]
    d = wait_for(sfn, sfn.start_execution(stateMachineArn=machine)["executionArn"])
    assert (d["status"], d["error"]) == ("FAILED", "SQS.QueueDoesNotExistException")
