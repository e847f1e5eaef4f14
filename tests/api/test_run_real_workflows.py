"""`stepwise run` on Task resources from published workflows: a result or a
failed execution with an error a user can act on, never a crashed process."""
import json
import os
import subprocess

import pytest

from conftest import BINARY


def run(tmp_path, definition):
    path = tmp_path / "machine.json"
    path.write_text(json.dumps(definition))
    out = subprocess.run([BINARY, "run", str(path)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "panicked" not in out.stderr, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def task(resource, parameters):
    return {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": resource,
                                             "Parameters": parameters, "End": True}}}


def test_an_http_task_in_stepwise_run_fails_with_its_error_not_a_panic(tmp_path):
    r = run(tmp_path, task("arn:aws:states:::http:invoke", {
        "ApiEndpoint": "http://127.0.0.1:1/nothing", "Method": "GET",
        "Authentication": {"ConnectionArn": "arn:aws:events:us-east-1:123456789012:connection/c/1"}}))
    assert (r["status"], r["error"]) == ("FAILED", "States.Http.Socket")


@pytest.mark.parametrize("resource", [
    "arn:aws:states:us-east-1:123456789012:aws-sdk:s3:getObject",
    "arn:aws:states:::sagemaker:createModel",
    "arn:aws-cn:states:::sqs:sendMessage",
])
def test_resources_aws_accepts_validate_and_run_to_an_actionable_error(tmp_path, resource):
    r = run(tmp_path, task(resource, {"Bucket": "b", "Key": "k"}))
    assert r["status"] == "FAILED", r
    assert r["cause"], r


RESOURCES = [
    "arn:aws:lambda:us-east-1:123456789012:function:f",
    "arn:aws:states:::lambda:invoke",
    "arn:aws:states:::lambda:invoke.waitForTaskToken",
    "arn:aws:states:::sqs:sendMessage",
    "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
    "arn:aws:states:::sns:publish",
    "arn:aws:states:::events:putEvents",
    "arn:aws:states:::dynamodb:getItem",
    "arn:aws:states:::dynamodb:putItem",
    "arn:aws:states:::dynamodb:updateItem",
    "arn:aws:states:::dynamodb:deleteItem",
    "arn:aws:states:::states:startExecution",
    "arn:aws:states:::states:startExecution.sync",
    "arn:aws:states:::states:startExecution.sync:2",
    "arn:aws:states:::http:invoke",
    "arn:aws:states:::aws-sdk:secretsmanager:getSecretValue",
    "arn:aws:states:::aws-sdk:dynamodb:listTables",
    "arn:aws:states:::aws-sdk:s3:listBuckets",
    "arn:aws:states:::athena:startQueryExecution.sync",
    "arn:aws:states:::glue:startJobRun.sync",
    "arn:aws:states:::batch:submitJob.sync",
    "arn:aws:states:::ecs:runTask.waitForTaskToken",
    "arn:aws:states:::bedrock:invokeModel",
    "arn:aws:states:::apigateway:invoke",
    "arn:aws:states:::codebuild:startBuild.sync",
    "arn:aws:states:::sagemaker:createTrainingJob.sync",
    "arn:aws:states:::ecs:runTask.sync",
    "arn:aws:states:::elasticmapreduce:addStep.sync",
    "arn:aws:states:::emr-serverless:startJobRun.sync",
    "arn:aws:states:::mediaconvert:createJob.sync",
    "arn:aws:states:::eks:createCluster",
    "arn:aws:states:::eks:call",
    "arn:aws:states:::eks:runJob.sync",
    "arn:aws:states:::elasticmapreduce:modifyInstanceGroupByName",
    "arn:aws:states:::elasticmapreduce:modifyInstanceFleetByName",
    "arn:aws:states:::emr-containers:startJobRun.sync",
    "arn:aws:states:::emr-containers:deleteVirtualCluster.sync",
    "arn:aws:states:::emr-serverless:createApplication.sync",
    "arn:aws:states:::codebuild:startBuildBatch.sync",
    "arn:aws:states:::sagemaker:createHyperParameterTuningJob.sync",
    "arn:aws:states:::sagemaker:createLabelingJob.sync",
    "arn:aws:states:::eks:createFargateProfile.sync",
    "arn:aws:states:::aws-sdk:ec2:describeInstances",
    "arn:aws:states:::aws-sdk:sns:listTopics",
    "arn:aws:states:::aws-sdk:lambda:listFunctions",
    "arn:aws:states:us-east-1:123456789012:activity:worker",
]


@pytest.mark.parametrize("resource", RESOURCES)
def test_every_resource_with_empty_parameters_gives_a_result_or_an_error(tmp_path, moto, resource):
    path = tmp_path / "machine.json"
    state = {"Type": "Task", "Resource": resource, "TimeoutSeconds": 2, "End": True}
    if ".waitForTaskToken" in resource:
        state["Parameters"] = {"Token.$": "$$.Task.Token"}
    path.write_text(json.dumps({"StartAt": "T", "States": {"T": state}}))
    env = dict(os.environ, AWS_ENDPOINT_URL=moto, AWS_ACCESS_KEY_ID="test",
               AWS_SECRET_ACCESS_KEY="test", AWS_REGION="us-east-1")
    out = subprocess.run([BINARY, "run", str(path), "--fast-forward"], capture_output=True,
                         text=True, timeout=60, env=env)
    assert out.returncode == 0 and "panicked" not in out.stderr, out.stderr[-2000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["status"] in ("SUCCEEDED", "FAILED", "TIMED_OUT"), result
    if result["status"] != "SUCCEEDED":
        # A task that timed out carries no cause, as on AWS (an activity
        # nobody works on waits for its TimeoutSeconds).
        assert result["error"] and (result["cause"] or result["error"] == "States.Timeout"), result
