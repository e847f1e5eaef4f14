"""Retention: `serve --retention-days` deletes executions a while after they end."""
import json
import time

import pytest
from botocore.exceptions import ClientError

from conftest import ROLE, Server, client, wait_for

PASS = json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})
WAIT = json.dumps({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 100, "End": True}}})
SWEEP = {"STEPWISE_RETENTION_SWEEP_SECONDS": "1"}


def gone(sfn, arn, timeout=5.0):
    """Whether DescribeExecution answers ExecutionDoesNotExist within `timeout`."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            sfn.describe_execution(executionArn=arn)
        except ClientError as e:
            return e.response["Error"]["Code"] == "ExecutionDoesNotExist"
        time.sleep(0.1)
    return False


@pytest.mark.parametrize("backend", ["embedded"])
@pytest.mark.parametrize("store", ["--in-memory", "--data"])
def test_ended_executions_are_deleted_past_retention(store, backend, tmp_path):
    args = ["--in-memory"] if store == "--in-memory" else ["--data", str(tmp_path)]
    args += ["--backend", backend]
    # 0.00002 days: 1.7 s.
    s = Server([*args, "--retention-days", "0.00002"], env=SWEEP).start()
    try:
        sfn = client(s.url)
        m = sfn.create_state_machine(name="m", definition=PASS, roleArn=ROLE)["stateMachineArn"]
        w = sfn.create_state_machine(name="w", definition=WAIT, roleArn=ROLE)["stateMachineArn"]
        done = sfn.start_execution(stateMachineArn=m)["executionArn"]
        running = sfn.start_execution(stateMachineArn=w)["executionArn"]
        assert wait_for(sfn, done)["status"] == "SUCCEEDED"
        assert gone(sfn, done)
        with pytest.raises(ClientError):
            sfn.get_execution_history(executionArn=done)
        assert sfn.list_executions(stateMachineArn=m)["executions"] == []
        assert sfn.describe_state_machine(stateMachineArn=m)["name"] == "m"
        assert sfn.describe_execution(executionArn=running)["status"] == "RUNNING"
    finally:
        s.stop()


def test_zero_keeps_executions_forever():
    s = Server(["--in-memory", "--retention-days", "0"], env=SWEEP).start()
    try:
        sfn = client(s.url)
        m = sfn.create_state_machine(name="m", definition=PASS, roleArn=ROLE)["stateMachineArn"]
        done = sfn.start_execution(stateMachineArn=m)["executionArn"]
        assert wait_for(sfn, done)["status"] == "SUCCEEDED"
        assert not gone(sfn, done, timeout=2.5)
    finally:
        s.stop()


@pytest.mark.parametrize("days", ["-1", "soon", "inf"])
def test_retention_days_must_be_a_number_of_days(days):
    s = Server(["--in-memory", "--retention-days", days])
    with pytest.raises(AssertionError):
        s.start()
    s.proc.wait(timeout=5)
