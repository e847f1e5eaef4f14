"""Mock configurations as Step Functions Local takes them, on both serve
backends: the server is given the configuration alone (`--mock-config`, or
SFN_MOCK_CONFIG as Step Functions Local reads it) and each execution is
started on `<state machine ARN>#<test case>`, taking that test case's
responses. Every published suite written for Step Functions Local starts
its executions this way; the server once refused such an ARN
(StateMachineDoesNotExist) and took one test case for every execution."""
import json
import os
import tempfile

import pytest

from conftest import BACKENDS, ROLE, client, serve_on, wait_for

LAMBDA = "arn:aws:lambda:us-east-1:123456789012:function:check"
MACHINE = {"StartAt": "Check", "States": {
    "Check": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
              "Parameters": {"FunctionName": LAMBDA, "Payload.$": "$"},
              "Retry": [{"ErrorEquals": ["Lambda.ResourceNotReadyException"], "IntervalSeconds": 1,
                         "MaxAttempts": 2}],
              "OutputPath": "$.Payload", "End": True}}}
CONFIG = {
    "StateMachines": {"LeadCheck": {"TestCases": {
        "HappyPath": {"Check": "Approved"},
        "RetryPath": {"Check": "NotReadyTwice"},
        "Broken": {"Check": "NoSuchResponse"}}},
        "LeadCheckExpress": {"TestCases": {"HappyPath": {"Check": "Approved"}}}},
    "MockedResponses": {
        "Approved": {"0": {"Return": {"StatusCode": 200, "Payload": {"approved": True}}}},
        "NotReadyTwice": {
            "0-1": {"Throw": {"Error": "Lambda.ResourceNotReadyException", "Cause": "not ready"}},
            "2": {"Return": {"StatusCode": 200, "Payload": {"approved": False}}}}}}


@pytest.fixture(scope="module", params=BACKENDS)
def sfn_local(request, moto):
    path = os.path.join(tempfile.mkdtemp(), "MockConfigFile.json")
    with open(path, "w") as f:
        json.dump(CONFIG, f)
    s = serve_on(request.param, moto, "mock-cases", env={"SFN_MOCK_CONFIG": path})
    sfn = client(s.url)
    arn = sfn.create_state_machine(name="LeadCheck", definition=json.dumps(MACHINE),
                                   roleArn=ROLE)["stateMachineArn"]
    yield sfn, arn
    s.stop()


def run(sfn, arn):
    ex = sfn.start_execution(stateMachineArn=arn)["executionArn"]
    return ex, wait_for(sfn, ex, timeout=20)


def test_each_execution_takes_the_test_case_it_was_started_on(sfn_local):
    sfn, arn = sfn_local
    ex, d = run(sfn, arn + "#HappyPath")
    assert (d["status"], json.loads(d["output"])) == ("SUCCEEDED", {"approved": True}), d
    # The execution is the machine's own, under its plain ARN.
    assert d["stateMachineArn"] == arn and ex.startswith(arn.replace(":stateMachine:", ":execution:"))
    assert [e["executionArn"] for e in sfn.list_executions(stateMachineArn=arn)["executions"]] == [ex]

    ex, d = run(sfn, arn + "#RetryPath")
    assert (d["status"], json.loads(d["output"])) == ("SUCCEEDED", {"approved": False}), d
    kinds = [e["type"] for e in sfn.get_execution_history(executionArn=ex)["events"]]
    assert kinds.count("TaskFailed") == 2 and kinds.count("TaskSucceeded") == 1, kinds
    # Counted per execution: the next one meets the failures again.
    ex, d = run(sfn, arn + "#RetryPath")
    kinds = [e["type"] for e in sfn.get_execution_history(executionArn=ex)["events"]]
    assert kinds.count("TaskFailed") == 2, kinds


def test_a_test_case_the_configuration_lacks_fails_the_task_saying_so(sfn_local):
    sfn, arn = sfn_local
    _, d = run(sfn, arn + "#Nope")
    assert (d["status"], d["error"]) == ("FAILED", "States.Runtime"), d
    assert '"Nope"' in d["cause"] and '"LeadCheck"' in d["cause"], d["cause"]
    # A test case naming a response that is not there fails when its state
    # is reached, as on Step Functions Local (the server still started).
    _, d = run(sfn, arn + "#Broken")
    assert (d["status"], d["error"]) == ("FAILED", "States.Runtime"), d
    assert 'no MockedResponses entry named "NoSuchResponse"' in d["cause"], d["cause"]


def test_an_execution_started_without_a_test_case_is_not_mocked(sfn_local):
    sfn, arn = sfn_local
    _, d = run(sfn, arn)
    # Its Lambda call is made for real (nothing answers it here).
    assert d["status"] == "FAILED" and d["error"] != "States.Runtime", d
    assert "approved" not in (d.get("output") or "")


def test_a_sync_express_execution_takes_its_test_case(sfn_local):
    """StartSyncExecution takes a test case too: the configuration's entry
    for the machine's own name."""
    sfn, _ = sfn_local
    arn = sfn.create_state_machine(name="LeadCheckExpress", definition=json.dumps(MACHINE), roleArn=ROLE,
                                   type="EXPRESS")["stateMachineArn"]
    d = sfn.start_sync_execution(stateMachineArn=arn + "#HappyPath")
    assert (d["status"], json.loads(d["output"])) == ("SUCCEEDED", {"approved": True}), d
    assert d["stateMachineArn"] == arn
    d = sfn.start_sync_execution(stateMachineArn=arn + "#RetryPath")
    assert (d["status"], d["error"]) == ("FAILED", "States.Runtime"), d
    assert '"RetryPath"' in d["cause"] and '"LeadCheckExpress"' in d["cause"], d["cause"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_account_comes_from_aws_account_id_as_on_step_functions_local(backend, moto):
    """Suites written for Step Functions Local set AWS_ACCOUNT_ID and build
    their ARNs with it; STEPWISE_ACCOUNT_ID, where set, still wins. The
    server once ignored AWS_ACCOUNT_ID, so every ARN such a suite built
    named a machine that did not exist."""
    for env, account in [({"AWS_ACCOUNT_ID": "123456789013"}, "123456789013"),
                         ({"AWS_ACCOUNT_ID": "123456789013", "STEPWISE_ACCOUNT_ID": "210987654321"},
                          "210987654321")]:
        s = serve_on(backend, moto, "account", env=env)
        try:
            sfn = client(s.url)
            built = f"arn:aws:states:us-east-1:{account}:stateMachine:Accounted"
            arn = sfn.create_state_machine(name="Accounted", definition=json.dumps(MACHINE),
                                           roleArn=ROLE)["stateMachineArn"]
            assert arn == built
            assert sfn.describe_state_machine(stateMachineArn=built)["name"] == "Accounted"
        finally:
            s.stop()
