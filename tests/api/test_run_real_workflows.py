"""`stepwise run` on Task resources from published workflows: a result or a
failed execution with an error a user can act on, never a crashed process."""
import json
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
