"""The AWS CLI against stepwise serve."""
import json
import os
import subprocess

from conftest import ROLE, wait_for


def aws(server, *args):
    env = dict(os.environ, AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test", AWS_DEFAULT_REGION="us-east-1", AWS_PAGER="")
    out = subprocess.run(["aws", "stepfunctions", "--endpoint-url", server.url, "--output", "json", *args],
                         capture_output=True, text=True, env=env)
    return out.returncode, (json.loads(out.stdout) if out.stdout.strip() else None), out.stderr


def test_cli_round_trip(server, sfn):
    definition = json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "Parameters": {"greeting.$": "States.Format('hi {}', $.who)"}, "End": True}}})
    rc, out, _ = aws(server, "create-state-machine", "--name", "cli", "--role-arn", ROLE, "--definition", definition)
    assert rc == 0
    arn = out["stateMachineArn"]
    rc, out, _ = aws(server, "start-execution", "--state-machine-arn", arn, "--input", '{"who": "ada"}')
    assert rc == 0
    d = wait_for(sfn, out["executionArn"])
    rc, out, _ = aws(server, "describe-execution", "--execution-arn", d["executionArn"])
    assert json.loads(out["output"]) == {"greeting": "hi ada"}
    rc, out, _ = aws(server, "list-state-machines")
    assert [m["name"] for m in out["stateMachines"]] == ["cli"]
    rc, _, err = aws(server, "describe-state-machine", "--state-machine-arn", arn + "-nope")
    assert rc != 0 and "StateMachineDoesNotExist" in err
