"""Task integrations in both backends of `stepwise serve` (embedded, and
`--backend aws` on DynamoDB/SQS), against moto server: a human approval
over SQS answered from the AWS CLI, DynamoDB items with a service error
caught by name, SNS and EventBridge messages that reach a queue, HTTP tasks
against a local HTTP server, nested executions (`.sync`, `.sync:2`,
request-response) and a heartbeat timeout caught by a Catch."""
import http.server
import json
import re
import os
import subprocess
import threading
import urllib.parse
import time
import uuid

import boto3
import botocore.exceptions
import pytest

from conftest import BACKENDS, ROLE, client, run_machine, serve_on, wait_for

AWS = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_REGION": "us-east-1",
       "AWS_DEFAULT_REGION": "us-east-1"}


class Served:
    """A server and the suffix that keeps its AWS resources apart."""

    def __init__(self, server, tag):
        self.server, self.url, self.tag = server, server.url, tag


@pytest.fixture(scope="module", params=BACKENDS)
def served(request, moto, echo):
    # Lambda tasks go to the echo server's Invoke API, as to `cargo lambda watch`.
    s = serve_on(request.param, moto, "integrations", ["--lambda-endpoint", echo], services=True)
    # A fresh suffix: moto outlives this module, and other modules make
    # queues too; a name met twice would hand this test their messages.
    yield Served(s, f"{request.param}-{uuid.uuid4().hex[:8]}")
    s.stop()


def aws(moto, service):
    return boto3.client(service, endpoint_url=moto, region_name="us-east-1",
                        aws_access_key_id="test", aws_secret_access_key="test")


def create(sfn, name, definition):
    return sfn.create_state_machine(name=name, roleArn=ROLE,
                                    definition=json.dumps(definition))["stateMachineArn"]


def table_keyed_by(ddb, name, key):
    """A DynamoDB table whose items are keyed by the string attribute `key`."""
    ddb.create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
                     AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"}],
                     KeySchema=[{"AttributeName": key, "KeyType": "HASH"}])
    return name


def receive(sqs, url, timeout=15):
    deadline = time.time() + timeout
    while time.time() < deadline:
        messages = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages", [])
        if messages:
            return messages
    raise AssertionError(f"no message on {url}")


def test_human_approval_over_sqs_and_the_aws_cli(served, moto):
    sqs = aws(moto, "sqs")
    url = sqs.create_queue(QueueName="approvals-" + served.tag)["QueueUrl"]
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
    request = json.loads(receive(sqs, url)[0]["Body"])
    assert request["order"] == 42
    assert sfn.describe_execution(executionArn=ex)["status"] == "RUNNING"
    env = dict(os.environ, **AWS)
    subprocess.run(["aws", "stepfunctions", "send-task-success", "--endpoint-url", served.url,
                    "--task-token", request["token"], "--task-output", '{"approved": true}'],
                   env=env, check=True, capture_output=True)
    d = wait_for(sfn, ex, timeout=20)
    assert d["status"] == "SUCCEEDED"
    assert json.loads(d["output"]) == {"order": 42, "decision": {"approved": True}}
    # As AWS writes it: the request's answer in TaskSubmitted, before the callback's result.
    events = sfn.get_execution_history(executionArn=ex)["events"]
    tasks = [e for e in events if e["type"].startswith("Task") and e["type"] != "TaskStateEntered"]
    assert [e["type"] for e in tasks] == ["TaskScheduled", "TaskStarted", "TaskSubmitted", "TaskSucceeded",
                                          "TaskStateExited"]
    submitted = tasks[2]["taskSubmittedEventDetails"]
    assert (submitted["resourceType"], submitted["resource"]) == ("sqs", "sendMessage.waitForTaskToken")
    assert json.loads(submitted["output"])["MessageId"] and submitted["outputDetails"] == {"truncated": False}
    # The token is used up: a second answer is refused.
    again = subprocess.run(["aws", "stepfunctions", "send-task-success", "--endpoint-url", served.url,
                            "--task-token", request["token"], "--task-output", "{}"],
                           env=env, capture_output=True, text=True)
    assert again.returncode != 0 and "TaskDoesNotExist" in again.stderr


def test_dynamodb_items_and_a_service_error_caught_by_name(served, moto):
    ddb = aws(moto, "dynamodb")
    table = table_keyed_by(ddb, "orders-" + served.tag, "id")
    sfn = client(served.url)
    put = {"Type": "Task", "Resource": "arn:aws:states:::dynamodb:putItem",
           "Parameters": {"TableName": table, "Item": {"id": {"S.$": "$.id"}, "qty": {"N": "3"}},
                          "ConditionExpression": "attribute_not_exists(id)"},
           "ResultPath": None}
    machine = sfn.create_state_machine(name="orders", roleArn=ROLE, definition=json.dumps({
        "StartAt": "Put",
        "States": {
            "Put": dict(put, Next="Get", Catch=[{
                "ErrorEquals": ["DynamoDB.ConditionalCheckFailedException"],
                "ResultPath": "$.error", "Next": "Duplicate"}]),
            "Get": {"Type": "Task", "Resource": "arn:aws:states:::dynamodb:getItem",
                    "Parameters": {"TableName": table, "Key": {"id": {"S.$": "$.id"}}},
                    "OutputPath": "$.Item", "End": True},
            "Duplicate": {"Type": "Pass", "Result": "duplicate", "End": True}}}))["stateMachineArn"]
    first = wait_for(sfn, sfn.start_execution(stateMachineArn=machine, input='{"id": "a1"}')["executionArn"], timeout=20)
    assert first["status"] == "SUCCEEDED", first
    assert json.loads(first["output"]) == {"id": {"S": "a1"}, "qty": {"N": "3"}}
    again = wait_for(sfn, sfn.start_execution(stateMachineArn=machine, input='{"id": "a1"}')["executionArn"], timeout=20)
    assert json.loads(again["output"]) == "duplicate"
    item = ddb.get_item(TableName=table, Key={"id": {"S": "a1"}})["Item"]
    assert item["qty"] == {"N": "3"}


def test_dynamodb_update_and_delete_return_what_was_asked(served, moto):
    ddb = aws(moto, "dynamodb")
    table = table_keyed_by(ddb, "stock-" + served.tag, "sku")
    ddb.put_item(TableName=table, Item={"sku": {"S": "k1"}, "count": {"N": "5"}, "tag": {"S": "old"}})
    sfn = client(served.url)
    key = {"sku": {"S.$": "$.sku"}}
    machine = create(sfn, "stock", {"StartAt": "Take", "States": {
        "Take": {"Type": "Task", "Resource": "arn:aws:states:::dynamodb:updateItem",
                 "Parameters": {"TableName": table, "Key": key,
                                "UpdateExpression": "SET #c = #c - :n, #t = :t",
                                "ConditionExpression": "#c >= :n",
                                "ExpressionAttributeNames": {"#c": "count", "#t": "tag"},
                                "ExpressionAttributeValues": {":n": {"N.$": "States.Format('{}', $.take)"},
                                                              ":t": {"S": "new"}},
                                "ReturnValues": "UPDATED_NEW"},
                 "ResultSelector": {"left.$": "$.Attributes.count.N", "tag.$": "$.Attributes.tag.S"},
                 "ResultPath": "$.taken", "Next": "Remove",
                 "Catch": [{"ErrorEquals": ["DynamoDB.ConditionalCheckFailedException"],
                            "ResultPath": "$.error", "Next": "Short"}]},
        "Remove": {"Type": "Task", "Resource": "arn:aws:states:::dynamodb:deleteItem",
                   "Parameters": {"TableName": table, "Key": key, "ReturnValues": "ALL_OLD"},
                   "ResultSelector": {"old.$": "$.Attributes"}, "ResultPath": "$.removed", "End": True},
        "Short": {"Type": "Pass", "Parameters": {"short.$": "$.error.Error"}, "End": True}}})
    d = wait_for(sfn, sfn.start_execution(stateMachineArn=machine, input='{"sku": "k1", "take": 2}')["executionArn"],
                 timeout=20)
    assert d["status"] == "SUCCEEDED", d
    out = json.loads(d["output"])
    assert out["taken"] == {"left": "3", "tag": "new"}
    assert out["removed"] == {"old": {"sku": {"S": "k1"}, "count": {"N": "3"}, "tag": {"S": "new"}}}
    assert "Item" not in ddb.get_item(TableName=table, Key={"sku": {"S": "k1"}})
    # Too few left: the condition fails under DynamoDB's name and the Catch takes it.
    ddb.put_item(TableName=table, Item={"sku": {"S": "k2"}, "count": {"N": "1"}, "tag": {"S": "old"}})
    d = wait_for(sfn, sfn.start_execution(stateMachineArn=machine, input='{"sku": "k2", "take": 2}')["executionArn"],
                 timeout=20)
    assert json.loads(d["output"]) == {"short": "DynamoDB.ConditionalCheckFailedException"}
    assert ddb.get_item(TableName=table, Key={"sku": {"S": "k2"}})["Item"]["count"] == {"N": "1"}


def test_sqs_message_attributes_reach_the_queue(served, moto):
    sqs = aws(moto, "sqs")
    url = sqs.create_queue(QueueName="tagged-" + served.tag)["QueueUrl"]
    sfn = client(served.url)
    machine = create(sfn, "tagged", {"StartAt": "Send", "States": {"Send": {
        "Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage",
        "Parameters": {"QueueUrl": url, "MessageBody.$": "$",
                       "MessageAttributes": {"kind": {"DataType": "String", "StringValue.$": "$.kind"},
                                             "size": {"DataType": "Number", "StringValue": "12"}}},
        "End": True}}})
    d = wait_for(sfn, sfn.start_execution(stateMachineArn=machine, input='{"kind": "parcel"}')["executionArn"],
                 timeout=20)
    assert d["status"] == "SUCCEEDED", d
    out = json.loads(d["output"])
    assert len(out["MD5OfMessageAttributes"]) == 32
    message = sqs.receive_message(QueueUrl=url, MessageAttributeNames=["All"], WaitTimeSeconds=5)["Messages"][0]
    assert json.loads(message["Body"]) == {"kind": "parcel"}
    assert message["MessageAttributes"] == {
        "kind": {"DataType": "String", "StringValue": "parcel"},
        "size": {"DataType": "Number", "StringValue": "12"}}
    assert message["MD5OfMessageAttributes"] == out["MD5OfMessageAttributes"]


def test_sync_express_executions_and_test_state_call_services(served, moto):
    sqs = aws(moto, "sqs")
    url = sqs.create_queue(QueueName="express-" + served.tag)["QueueUrl"]
    sfn = client(served.url)
    send = {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage",
            "Parameters": {"QueueUrl": url, "MessageBody.$": "$.note"},
            "ResultSelector": {"sent.$": "$.MessageId"}, "End": True}
    definition = json.dumps({"StartAt": "Send", "States": {"Send": send}})
    assert sfn.validate_state_machine_definition(definition=definition, type="EXPRESS")["result"] == "OK"
    machine = sfn.create_state_machine(name="express-send", roleArn=ROLE, type="EXPRESS",
                                       definition=definition)["stateMachineArn"]
    r = sfn.start_sync_execution(stateMachineArn=machine, input='{"note": "now"}')
    assert r["status"] == "SUCCEEDED", r
    message = receive(sqs, url)[0]
    assert message["Body"] == "now"
    assert json.loads(r["output"]) == {"sent": message["MessageId"]}
    sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    # TestState runs the same state alone, for real.
    t = sfn.test_state(definition=json.dumps(send), roleArn=ROLE, input='{"note": "test"}')
    assert t["status"] == "SUCCEEDED", t
    message = receive(sqs, url)[0]
    assert message["Body"] == "test"
    assert json.loads(t["output"]) == {"sent": message["MessageId"]}
    broken = sfn.validate_state_machine_definition(definition=json.dumps({"StartAt": "Nowhere", "States": {"Send": send}}))
    assert broken["result"] == "FAIL" and broken["diagnostics"][0]["severity"] == "ERROR"


def test_a_missing_queue_fails_with_the_sqs_error_name(served, moto):
    sfn = client(served.url)
    machine = sfn.create_state_machine(name="lost", roleArn=ROLE, definition=json.dumps({
        "StartAt": "Send", "States": {"Send": {
            "Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage",
            "Parameters": {"QueueUrl": moto + "/123456789012/nowhere", "MessageBody": "hi"},
            "End": True}}}))["stateMachineArn"]
    d = wait_for(sfn, sfn.start_execution(stateMachineArn=machine)["executionArn"], timeout=20)
    assert (d["status"], d["error"]) == ("FAILED", "SQS.QueueDoesNotExistException")


def test_a_null_required_member_is_the_services_refusal(served, moto):
    """AWS sends the call and the service refuses it, with an error a Catch
    on the service's name takes (not States.Runtime)."""
    sqs = aws(moto, "sqs")
    url = sqs.create_queue(QueueName="nulls-" + served.tag)["QueueUrl"]
    sfn = client(served.url)
    caught = [{"ErrorEquals": ["SQS.AmazonSQSException", "DynamoDB.AmazonDynamoDBException"],
               "Next": "Caught"}]
    machine = create(sfn, "nulls-" + served.tag, {"StartAt": "Pick", "States": {
        "Pick": {"Type": "Choice", "Choices": [{"Variable": "$.to", "StringEquals": "sqs", "Next": "Send"}],
                 "Default": "Put"},
        "Send": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage",
                 "Parameters": {"QueueUrl": url, "MessageBody.$": "$.body"}, "Catch": caught, "End": True},
        "Put": {"Type": "Task", "Resource": "arn:aws:states:::dynamodb:putItem",
                "Parameters": {"TableName": "no-such-table", "Item.$": "$.body"}, "Catch": caught, "End": True},
        "Caught": {"Type": "Pass", "End": True}}})
    expected = {
        "sqs": ("SQS.AmazonSQSException", r"The request must contain the parameter MessageBody\. "
                r"\(Service: AmazonSQS; Status Code: 400; Error Code: MissingParameter; Request ID: [0-9a-f-]{36}; "
                r"Proxy: null\)"),
        # Checked before the table is looked for.
        "dynamodb": ("DynamoDB.AmazonDynamoDBException", r"1 validation error detected: Value null at 'item' failed "
                     r"to satisfy constraint: Member must not be null \(Service: AmazonDynamoDBv2; Status Code: 400; "
                     r"Error Code: ValidationException; Request ID: [0-9a-f-]{36}; Proxy: null\)")}
    for to, (error, cause) in expected.items():
        d = wait_for(sfn, sfn.start_execution(stateMachineArn=machine, input=json.dumps(
            {"to": to, "body": None}))["executionArn"], timeout=20)
        assert d["status"] == "SUCCEEDED", d
        out = json.loads(d["output"])
        assert out["Error"] == error and re.fullmatch(cause, out["Cause"]), out
    assert "Messages" not in sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1)


def test_without_a_stand_in_a_message_goes_where_its_queue_url_points(moto, tmp_path):
    """As on AWS, where the URL's host (and its region) is where the call
    goes; a host that does not resolve is the SDK's client error."""
    sqs = aws(moto, "sqs")
    url = sqs.create_queue(QueueName="by-url-" + uuid.uuid4().hex[:8])["QueueUrl"]
    path = tmp_path / "m.json"
    path.write_text(json.dumps({"StartAt": "Send", "States": {"Send": {
        "Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage",
        "Parameters": {"QueueUrl.$": "$.url", "MessageBody": "by url"}, "End": True}}}))
    # No AWS_ENDPOINT_URL: AWS itself, but for the queue's own URL.
    alone = dict(AWS, AWS_ENDPOINT_URL="")
    sent = run_machine(path, "--input", json.dumps({"url": url}), env=alone)
    assert sent["status"] == "SUCCEEDED", sent
    assert receive(sqs, url)[0]["Body"] == "by url"
    lost = run_machine(path, "--input", json.dumps({"url": "http://no-such-queue-fa484d45/1/q"}), env=alone)
    assert (lost["status"], lost["error"]) == ("FAILED", "SQS.SdkClientException"), lost
    assert lost["cause"].startswith("Unable to execute HTTP request: "), lost


def test_sns_publish_reaches_a_subscribed_queue(served, moto):
    sns, sqs = aws(moto, "sns"), aws(moto, "sqs")
    topic = sns.create_topic(Name="orders-" + served.tag)["TopicArn"]
    url = sqs.create_queue(QueueName="sns-inbox-" + served.tag)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn,
                  Attributes={"RawMessageDelivery": "true"})
    sfn = client(served.url)
    machine = create(sfn, "notify", {"StartAt": "Publish", "States": {"Publish": {
        "Type": "Task", "Resource": "arn:aws:states:::sns:publish",
        "Parameters": {"TopicArn": topic, "Message.$": "$.note", "Subject": "order"},
        "End": True}}})
    d = wait_for(sfn, sfn.start_execution(stateMachineArn=machine, input='{"note": {"id": 7}}')["executionArn"],
                 timeout=20)
    assert d["status"] == "SUCCEEDED", d
    out = json.loads(d["output"])
    assert len(out["MessageId"]) > 0 and out["SdkHttpMetadata"]["HttpStatusCode"] == 200
    # A JSON message goes out as its text.
    assert json.loads(receive(sqs, url)[0]["Body"]) == {"id": 7}
    missing = create(sfn, "notify-nowhere", {"StartAt": "Publish", "States": {"Publish": {
        "Type": "Task", "Resource": "arn:aws:states:::sns:publish",
        "Parameters": {"TopicArn": topic + "-gone", "Message": "x"}, "End": True}}})
    d = wait_for(sfn, sfn.start_execution(stateMachineArn=missing)["executionArn"], timeout=20)
    assert d["status"] == "FAILED" and d["error"].startswith("SNS."), d


def test_eventbridge_put_events_reaches_a_rule_target(served, moto):
    events, sqs = aws(moto, "events"), aws(moto, "sqs")
    url = sqs.create_queue(QueueName="events-inbox-" + served.tag)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    source = "stepwise.test." + served.tag
    events.put_rule(Name="rule-" + served.tag, EventPattern=json.dumps({"source": [source]}))
    events.put_targets(Rule="rule-" + served.tag, Targets=[{"Id": "inbox", "Arn": queue_arn}])
    sfn = client(served.url)
    machine = create(sfn, "announce", {"StartAt": "Put", "States": {"Put": {
        "Type": "Task", "Resource": "arn:aws:states:::events:putEvents",
        "Parameters": {"Entries": [{"Source": source, "DetailType": "OrderPlaced",
                                    "Detail": {"order.$": "$.order"}}]},
        "End": True}}})
    ex = sfn.start_execution(stateMachineArn=machine, input='{"order": 5}')["executionArn"]
    d = wait_for(sfn, ex, timeout=20)
    assert d["status"] == "SUCCEEDED", d
    out = json.loads(d["output"])
    assert out["FailedEntryCount"] == 0 and len(out["Entries"]) == 1 and out["Entries"][0]["EventId"]
    event = json.loads(receive(sqs, url)[0]["Body"])
    assert event["detail-type"] == "OrderPlaced" and event["detail"] == {"order": 5}
    # As AWS sends it (LocalStack's test_put_events_base, recorded on AWS):
    # the event names the state machine and the execution that sent it.
    assert event["resources"] == [machine, ex], event


class Echo(http.server.BaseHTTPRequestHandler):
    """Answers every request with what it received; /missing is a 404."""

    def handle_one(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        if self.path.startswith("/2015-03-31/functions/"):
            return self.invoke(self.path.split("/")[3], json.loads(body))
        status = 404 if self.path.startswith("/missing") else 200
        reply = json.dumps({"method": self.command, "path": self.path, "body": body,
                            "type": self.headers.get("Content-Type"),
                            "key": self.headers.get("X-Api-Key")}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def invoke(self, function, event):
        """The Lambda Invoke API: `boom` raises (HTTP 500, as `cargo lambda
        watch` reports a function error), the rest echo their event."""
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
        if function == "boom":
            reply, status = {"errorType": "Boom", "errorMessage": "it broke"}, 500
        elif function == "gone":
            reply, status = {"Type": "User", "Message": "Function not found"}, 404
        elif function == "slow":
            time.sleep(30)
            reply, status = {}, 200
        elif function == "told":
            # What else the call said: its qualifier and client context.
            reply, status = {"qualifier": query.get("Qualifier"),
                             "context": self.headers.get("X-Amz-Client-Context")}, 200
        else:
            reply, status = {"function": function, "event": event}, 200
        if self.headers.get("X-Amz-Invocation-Type") == "Event":
            reply, status = None, 202
        data = b"" if reply is None else json.dumps(reply).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        if self.headers.get("X-Amz-Log-Type") == "Tail":
            self.send_header("X-Amz-Log-Result", "bG9nIHRhaWw=")
        self.send_header("x-amzn-RequestId", f"req-{function}")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = handle_one

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def echo():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def test_http_tasks_call_a_local_server(served, echo):
    sfn = client(served.url)
    conn = "arn:aws:events:us-east-1:123456789012:connection/local/1"
    machine = create(sfn, "http-calls", {"StartAt": "Post", "States": {
        "Post": {"Type": "Task", "Resource": "arn:aws:states:::http:invoke",
                 "Parameters": {"ApiEndpoint": echo + "/orders", "Method": "POST",
                                "Authentication": {"ConnectionArn": conn},
                                "Headers": {"X-Api-Key": "k1"},
                                "QueryParameters": {"q": "a b"},
                                "RequestBody": {"id.$": "$.id"}},
                 "ResultSelector": {"sent.$": "$.ResponseBody", "status.$": "$.StatusCode",
                                    "text.$": "$.StatusText"},
                 "ResultPath": "$.post", "Next": "Form"},
        "Form": {"Type": "Task", "Resource": "arn:aws:states:::http:invoke",
                 "Parameters": {"ApiEndpoint": echo + "/form", "Method": "PUT",
                                "Authentication": {"ConnectionArn": conn},
                                "RequestBody": {"tags": ["x", "y"]},
                                "Transform": {"RequestBodyEncoding": "URL_ENCODED",
                                              "RequestEncodingOptions": {"ArrayFormat": "REPEAT"}}},
                 "ResultSelector": {"sent.$": "$.ResponseBody"},
                 "ResultPath": "$.form", "Next": "Missing"},
        "Missing": {"Type": "Task", "Resource": "arn:aws:states:::http:invoke",
                    "Parameters": {"ApiEndpoint": echo + "/missing", "Method": "GET",
                                   "Authentication": {"ConnectionArn": conn}},
                    "Catch": [{"ErrorEquals": ["States.Http.StatusCode.404"],
                               "ResultPath": "$.missing", "Next": "Done"}],
                    "End": True},
        "Done": {"Type": "Succeed"}}})
    d = wait_for(sfn, sfn.start_execution(stateMachineArn=machine, input='{"id": 3}')["executionArn"],
                 timeout=20)
    assert d["status"] == "SUCCEEDED", d
    out = json.loads(d["output"])
    sent = out["post"]["sent"]
    assert (sent["method"], sent["path"], sent["key"]) == ("POST", "/orders?q=a+b", "k1") \
        or (sent["method"], sent["path"], sent["key"]) == ("POST", "/orders?q=a%20b", "k1")
    assert json.loads(sent["body"]) == {"id": 3} and sent["type"] == "application/json"
    assert (out["post"]["status"], out["post"]["text"]) == (200, "OK")
    form = out["form"]["sent"]
    assert (form["method"], form["body"], form["type"]) == \
        ("PUT", "tags=x&tags=y", "application/x-www-form-urlencoded")
    assert out["missing"]["Error"] == "States.Http.StatusCode.404"
    assert json.loads(out["missing"]["Cause"])["StatusCode"] == 404


def test_nested_executions_sync_sync2_and_request_response(served):
    sfn = client(served.url)
    child = create(sfn, "child-" + served.tag, {"StartAt": "Double", "States": {
        "Double": {"Type": "Pass", "Parameters": {"n.$": "States.MathAdd($.n, $.n)"}, "Next": "Check"},
        "Check": {"Type": "Choice", "Choices": [
            {"Variable": "$.n", "NumericGreaterThan": 100, "Next": "TooBig"}], "Default": "Ok"},
        "TooBig": {"Type": "Fail", "Error": "TooBig", "Cause": "over 100"},
        "Ok": {"Type": "Succeed"}}})
    parent = create(sfn, "parent-" + served.tag, {"StartAt": "Sync", "States": {
        "Sync": {"Type": "Task", "Resource": "arn:aws:states:::states:startExecution.sync",
                 "Parameters": {"StateMachineArn": child, "Input": {"n.$": "$.n"}},
                 "ResultSelector": {"output.$": "$.Output", "status.$": "$.Status"},
                 "ResultPath": "$.sync", "Next": "Sync2"},
        "Sync2": {"Type": "Task", "Resource": "arn:aws:states:::states:startExecution.sync:2",
                  "Parameters": {"StateMachineArn": child, "Input": {"n.$": "$.n"}},
                  "ResultSelector": {"output.$": "$.Output"},
                  "ResultPath": "$.sync2", "Next": "Fire"},
        "Fire": {"Type": "Task", "Resource": "arn:aws:states:::states:startExecution",
                 "Parameters": {"StateMachineArn": child, "Input": {"n": 1}, "Name": "fired"},
                 "ResultPath": "$.fired", "Next": "TooBig"},
        "TooBig": {"Type": "Task", "Resource": "arn:aws:states:::states:startExecution.sync:2",
                   "Parameters": {"StateMachineArn": child, "Input": {"n": 60}},
                   "Catch": [{"ErrorEquals": ["States.TaskFailed"], "ResultPath": "$.failed",
                              "Next": "Done"}],
                   "End": True},
        "Done": {"Type": "Succeed"}}})
    d = wait_for(sfn, sfn.start_execution(stateMachineArn=parent, input='{"n": 4}')["executionArn"],
                 timeout=30)
    assert d["status"] == "SUCCEEDED", d
    out = json.loads(d["output"])
    assert out["sync"] == {"output": '{"n":8}', "status": "SUCCEEDED"}
    assert out["sync2"] == {"output": {"n": 8}}
    assert out["fired"]["ExecutionArn"].endswith(":fired") and isinstance(out["fired"]["StartDate"], int)
    # With the SDK's response metadata, as AWS's histories show it.
    assert out["fired"]["SdkHttpMetadata"]["HttpStatusCode"] == 200
    assert out["fired"]["SdkResponseMetadata"]["RequestId"] == \
        out["fired"]["SdkHttpMetadata"]["HttpHeaders"]["x-amzn-RequestId"] != ""
    failed = json.loads(out["failed"]["Cause"])
    assert out["failed"]["Error"] == "States.TaskFailed"
    assert (failed["Status"], failed["Error"], failed["Cause"]) == ("FAILED", "TooBig", "over 100")
    children = sfn.list_executions(stateMachineArn=child)["executions"]
    assert len(children) == 4
    # Each waiting task's start answer, in TaskSubmitted.
    events = sfn.get_execution_history(executionArn=d["executionArn"], maxResults=1000)["events"]
    submitted = [json.loads(e["taskSubmittedEventDetails"]["output"]) for e in events
                 if e["type"] == "TaskSubmitted"]
    assert len(submitted) == 3
    assert all(set(o) == {"ExecutionArn", "StartDate", "SdkHttpMetadata", "SdkResponseMetadata"}
               for o in submitted), submitted
    assert sorted(o["ExecutionArn"] for o in submitted) == sorted(
        c["executionArn"] for c in children if not c["executionArn"].endswith(":fired"))
    missing = create(sfn, "orphan-" + served.tag, {"StartAt": "Go", "States": {"Go": {
        "Type": "Task", "Resource": "arn:aws:states:::states:startExecution.sync",
        "Parameters": {"StateMachineArn": child + "-gone"}, "End": True}}})
    d = wait_for(sfn, sfn.start_execution(stateMachineArn=missing)["executionArn"], timeout=20)
    assert (d["status"], d["error"]) == ("FAILED", "StepFunctions.StateMachineDoesNotExistException"), d
    # Worded as AWS's histories show a refusal of an optimized integration.
    assert re.fullmatch(r"State Machine Does Not Exist: '.*-gone' \(Service: AWSStepFunctions; Status Code: 400; "
                        r"Error Code: StateMachineDoesNotExist; Request ID: [0-9a-f-]{36}; Proxy: null\)",
                        d["cause"]), d["cause"]


def test_a_sync_task_that_gives_up_stops_its_child(served):
    sfn = client(served.url)
    slow = create(sfn, "slow-" + served.tag, {"StartAt": "Sleep", "States": {
        "Sleep": {"Type": "Wait", "Seconds": 300, "End": True}}})
    sync = {"Type": "Task", "Resource": "arn:aws:states:::states:startExecution.sync:2",
            "Parameters": {"StateMachineArn": slow, "Name.$": "$.child"}}
    # The task times out (TimeoutSeconds), a Catch takes it, and the child stops.
    impatient = create(sfn, "impatient-" + served.tag, {"StartAt": "Run", "States": {
        "Run": dict(sync, TimeoutSeconds=1, Next="Done",
                    Catch=[{"ErrorEquals": ["States.Timeout"], "ResultPath": "$.error", "Next": "Gave up"}]),
        "Gave up": {"Type": "Pass", "Result": "gave up", "End": True},
        "Done": {"Type": "Succeed"}}})
    run = sfn.start_execution(stateMachineArn=impatient, input='{"child": "timed"}')["executionArn"]
    d = wait_for(sfn, run, timeout=20)
    assert (d["status"], json.loads(d["output"])) == ("SUCCEEDED", "gave up"), d
    child = slow.replace(":stateMachine:", ":execution:") + ":timed"
    assert wait_for(sfn, child, timeout=20)["status"] == "ABORTED"
    # Its abort names the execution whose task gave up on it, as AWS's does.
    def aborted(arn):
        events = sfn.get_execution_history(executionArn=arn, reverseOrder=True)["events"]
        assert events[0]["type"] == "ExecutionAborted", events[0]
        return events[0]["executionAbortedEventDetails"]
    assert aborted(child) == {"cause": f"The Task state in AWS Step Functions execution [{run}] "
                                       "which was managing this resource was aborted"}
    # The parent is stopped: its child inside a Parallel branch stops too,
    # and one started by a request-response task goes on.
    parent = create(sfn, "stopped-" + served.tag, {"StartAt": "Both", "States": {
        "Both": {"Type": "Parallel", "End": True, "Branches": [
            {"StartAt": "Run", "States": {"Run": dict(sync, End=True)}},
            {"StartAt": "Fire", "States": {"Fire": {
                "Type": "Task", "Resource": "arn:aws:states:::states:startExecution",
                "Parameters": {"StateMachineArn": slow, "Name.$": "States.Format('{}-free', $.child)"},
                "Next": "Hold"},
                "Hold": {"Type": "Wait", "Seconds": 300, "End": True}}}]}}})
    ex = sfn.start_execution(stateMachineArn=parent, input='{"child": "stopped"}')["executionArn"]
    stopped, free = child[:-len("timed")] + "stopped", child[:-len("timed")] + "stopped-free"
    deadline = time.time() + 20
    while len(sfn.list_executions(stateMachineArn=slow, statusFilter="RUNNING")["executions"]) < 2:
        assert time.time() < deadline, "the children did not start"
        time.sleep(0.05)
    sfn.stop_execution(executionArn=ex, error="Enough", cause="the test stops it")
    assert wait_for(sfn, ex, timeout=20)["status"] == "ABORTED"
    assert wait_for(sfn, stopped, timeout=20)["status"] == "ABORTED"
    assert aborted(stopped)["cause"].startswith(f"The Task state in AWS Step Functions execution [{ex}]")
    assert sfn.describe_execution(executionArn=free)["status"] == "RUNNING"
    sfn.stop_execution(executionArn=free)


def test_a_missed_heartbeat_is_caught(served, moto):
    sqs = aws(moto, "sqs")
    url = sqs.create_queue(QueueName="silent-" + served.tag)["QueueUrl"]
    sfn = client(served.url)
    machine = create(sfn, "heartbeat", {"StartAt": "Ask", "States": {
        "Ask": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                "Parameters": {"QueueUrl": url, "MessageBody": {"token.$": "$$.Task.Token"}},
                "HeartbeatSeconds": 1, "TimeoutSeconds": 60,
                "Catch": [{"ErrorEquals": ["States.HeartbeatTimeout"], "ResultPath": "$.late",
                           "Next": "Escalate"}],
                "End": True},
        "Escalate": {"Type": "Pass", "End": True}}})
    d = wait_for(sfn, sfn.start_execution(stateMachineArn=machine, input="{}")["executionArn"], timeout=20)
    assert d["status"] == "SUCCEEDED", d
    # Caught by its States.HeartbeatTimeout rule; the error is the one AWS
    # reports, States.Timeout, as in the history.
    assert json.loads(d["output"])["late"]["Error"] == "States.Timeout"
    events = sfn.get_execution_history(executionArn=d["executionArn"])["events"]
    timed_out = [e for e in events if e["type"] == "TaskTimedOut"]
    assert [e["taskTimedOutEventDetails"]["error"] for e in timed_out] == ["States.Timeout"]
    token = json.loads(receive(sqs, url)[0]["Body"])["token"]
    # A late answer: the task timed out.
    with pytest.raises(sfn.exceptions.TaskTimedOut):
        sfn.send_task_success(taskToken=token, output="{}")


def test_an_activity_worker_written_with_boto3(served):
    sfn = client(served.url)
    activity = sfn.create_activity(name="pack-" + served.tag)["activityArn"]
    assert sfn.create_activity(name="pack-" + served.tag)["activityArn"] == activity
    assert activity in [a["activityArn"] for a in sfn.list_activities()["activities"]]
    machine = create(sfn, "packing-" + served.tag, {"StartAt": "Pack", "States": {
        "Pack": {"Type": "Task", "Resource": activity, "HeartbeatSeconds": 30, "TimeoutSeconds": 60,
                 "Parameters": {"box.$": "$.box"}, "End": True}}})
    runs = [sfn.start_execution(stateMachineArn=machine, input=json.dumps({"box": i}))["executionArn"]
            for i in range(3)]
    seen, lock = [], threading.Lock()

    def worker(name):
        # Each worker its own client, as separate processes would have.
        me = client(served.url)
        while True:
            try:
                task = me.get_activity_task(activityArn=activity, workerName=name)
            except botocore.exceptions.EndpointConnectionError:
                return  # the server stopped while this worker waited
            if not task.get("taskToken"):
                return
            box = json.loads(task["input"])["box"]
            with lock:
                seen.append(box)
                done = len(seen) == 3
            me.send_task_heartbeat(taskToken=task["taskToken"])
            me.send_task_success(taskToken=task["taskToken"], output=json.dumps({"packed": box}))
            if done:
                return

    workers = [threading.Thread(target=worker, args=(f"w{i}",), daemon=True) for i in range(2)]
    for w in workers:
        w.start()
    outputs = sorted(json.loads(wait_for(sfn, r, timeout=30)["output"])["packed"] for r in runs)
    assert outputs == [0, 1, 2]
    # Every task went to exactly one worker.
    with lock:
        assert sorted(seen) == [0, 1, 2]
    events = sfn.get_execution_history(executionArn=runs[1])["events"]
    kinds = [e["type"] for e in events]
    assert kinds.index("ActivityScheduled") < kinds.index("ActivitySucceeded")
    scheduled = next(e for e in events if e["type"] == "ActivityScheduled")["activityScheduledEventDetails"]
    assert scheduled["resource"] == activity and json.loads(scheduled["input"]) == {"box": 1}
    assert (scheduled["timeoutInSeconds"], scheduled["heartbeatInSeconds"]) == (60, 30)
    succeeded = next(e for e in events if e["type"] == "ActivitySucceeded")["activitySucceededEventDetails"]
    assert json.loads(succeeded["output"]) == {"packed": 1}
    sfn.delete_activity(activityArn=activity)
    with pytest.raises(sfn.exceptions.ActivityDoesNotExist):
        sfn.describe_activity(activityArn=activity)


def test_start_sync_execution_sends_lambda_tasks_where_executions_send_them(served):
    """Once, StartSyncExecution on the serverless backend called Lambda with
    the SDK at AWS_ENDPOINT_URL (moto) while its executions called the
    server's --lambda-endpoint: the same task reached two places."""
    sfn = client(served.url)
    machine = sfn.create_state_machine(
        name="sync-lambdas", roleArn=ROLE, type="EXPRESS", definition=json.dumps({
            "StartAt": "Arn", "States": {
                "Arn": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:echo",
                        "ResultPath": "$.direct", "Next": "Boom"},
                "Boom": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                         "Parameters": {"FunctionName": "boom", "Payload": {}},
                         "Catch": [{"ErrorEquals": ["Boom"], "ResultPath": "$.caught", "Next": "Done"}],
                         "End": True},
                "Done": {"Type": "Succeed"}}}))["stateMachineArn"]
    d = sfn.start_sync_execution(stateMachineArn=machine, input='{"n": 2}')
    assert d["status"] == "SUCCEEDED", d
    out = json.loads(d["output"])
    assert out["direct"] == {"function": "echo", "event": {"n": 2}}
    assert out["caught"]["Error"] == "Boom"


def test_a_missing_function_is_named_by_its_arn_as_aws_names_it(served):
    """Recorded on AWS (LocalStack's test_no_such_function): lambda:invoke
    fails with Lambda.ResourceNotFoundException, "Function not found: <the
    function's ARN>" in the Java SDK's words. We named the function as
    given, without the rest."""
    sfn = client(served.url)
    catch = [{"ErrorEquals": ["Lambda.ResourceNotFoundException"], "Next": "Done"}]
    machine = create(sfn, "gone-" + served.tag, {"StartAt": "Invoke", "States": {
        "Invoke": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                   "Parameters": {"FunctionName": "gone", "Payload": {}}, "Catch": catch, "End": True},
        "Done": {"Type": "Succeed"}}})
    d = wait_for(sfn, sfn.start_execution(stateMachineArn=machine)["executionArn"], timeout=20)
    assert d["status"] == "SUCCEEDED", d
    account = machine.split(":")[4]
    assert json.loads(d["output"])["Cause"] == (
        f"Function not found: arn:aws:lambda:us-east-1:{account}:function:gone (Service: AWSLambda; "
        "Status Code: 404; Error Code: ResourceNotFoundException; Request ID: req-gone; Proxy: null)")


def test_lambda_invoke_passes_the_invoke_parameters_on(served):
    """lambda:invoke passes Qualifier, ClientContext, InvocationType and
    LogType on to Invoke, as AWS does (recorded on AWS: LocalStack's
    test_invoke_unsupported_param gives LogResult and its header for
    LogType Tail); we dropped them: an Event invocation waited for the
    function's answer."""
    sfn = client(served.url)

    def invoke(name, **parameters):
        return {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": "told", "Payload": {}, **parameters}, "ResultPath": "$." + name}
    machine = create(sfn, "invoke-parameters", {"StartAt": "Told", "States": {
        "Told": {**invoke("told", Qualifier="live", ClientContext="eyJ4IjogMX0=", LogType="Tail"), "Next": "Event"},
        "Event": {**invoke("event", InvocationType="Event"), "End": True}}})
    d = wait_for(sfn, sfn.start_execution(stateMachineArn=machine)["executionArn"], timeout=20)
    assert d["status"] == "SUCCEEDED", d
    out = json.loads(d["output"])
    told = out["told"]
    assert told["Payload"] == {"qualifier": ["live"], "context": "eyJ4IjogMX0="}
    assert told["LogResult"] == "bG9nIHRhaWw="
    assert told["SdkHttpMetadata"]["AllHttpHeaders"]["X-Amz-Log-Result"] == ["bG9nIHRhaWw="]
    # HttpHeaders by name, whatever the case, as AWS's SDK keeps them.
    names = list(told["SdkHttpMetadata"]["HttpHeaders"])
    assert names == sorted(names, key=str.lower) and "X-Amz-Log-Result" in names
    assert list(told) == sorted(told)
    assert (out["event"]["StatusCode"], out["event"]["Payload"]) == (202, "")


def test_a_timed_out_lambda_call_is_not_waited_for(echo, tmp_path):
    """A Lambda task whose TimeoutSeconds passed ends the execution then:
    `stepwise run` waited for the abandoned call (30 s here) to answer."""
    path = tmp_path / "slow.json"
    path.write_text(json.dumps({"StartAt": "Slow", "States": {"Slow": {
        "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "TimeoutSeconds": 1,
        "Parameters": {"FunctionName": "slow", "Payload": {}}, "End": True}}}))
    result = run_machine(path, "--lambda-endpoint", echo, timeout=20)
    assert (result["status"], result["error"]) == ("FAILED", "States.Timeout"), result


def test_lambda_tasks_go_to_the_invoke_api(served):
    sfn = client(served.url)
    machine = create(sfn, "lambdas", {"StartAt": "Arn", "States": {
        "Arn": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:echo",
                "ResultPath": "$.direct", "Next": "Invoke"},
        "Invoke": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                   "Parameters": {"FunctionName": "echo", "Payload": {"n.$": "$.n"}},
                   "ResultSelector": {"payload.$": "$.Payload", "status.$": "$.StatusCode",
                                      "id.$": "$.SdkResponseMetadata.RequestId",
                                      "header.$": "$.SdkHttpMetadata.HttpHeaders['x-amzn-RequestId']"},
                   "ResultPath": "$.invoked", "Next": "AsText"},
        # A Payload string holding JSON text goes as it is (AWS); other text
        # as a JSON string.
        "AsText": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                   "Parameters": {"FunctionName": "echo", "Payload.$": "States.JsonToString($.direct.event)"},
                   "ResultSelector": {"event.$": "$.Payload.event"}, "ResultPath": "$.text", "Next": "Plain"},
        "Plain": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                  "Parameters": {"FunctionName": "echo", "Payload": "plain text"},
                  "ResultSelector": {"event.$": "$.Payload.event"}, "ResultPath": "$.plain", "Next": "Boom"},
        "Boom": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                 "Parameters": {"FunctionName": "boom", "Payload": {}},
                 "Catch": [{"ErrorEquals": ["Boom"], "ResultPath": "$.caught", "Next": "Done"}],
                 "End": True},
        "Done": {"Type": "Succeed"}}})
    d = wait_for(sfn, sfn.start_execution(stateMachineArn=machine, input='{"n": 1}')["executionArn"],
                 timeout=20)
    assert d["status"] == "SUCCEEDED", d
    out = json.loads(d["output"])
    assert out["direct"] == {"function": "echo", "event": {"n": 1}}
    # The request id the function's answer carried, where AWS's SDK puts it
    # (it was always empty).
    assert out["invoked"] == {"payload": {"function": "echo", "event": {"n": 1}}, "status": 200,
                              "id": "req-echo", "header": "req-echo"}
    assert out["caught"]["Error"] == "Boom"
    assert (out["text"], out["plain"]) == ({"event": {"n": 1}}, {"event": "plain text"})
