"""A SAM app's state machines run from its template.yaml: `stepwise run
--template` runs one, `stepwise serve --template --watch` creates them all
and updates them when the template or a definition file changes."""
import json
import os
import shutil
import subprocess
import time

import pytest

from conftest import BINARY, ROOT, Server, client

APP = os.path.join(ROOT, "examples", "sam-app")
MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:OrdersStateMachine"
FUNCTION = "arn:aws:lambda:us-east-1:123456789012:function:price-dev"


def stepwise_run(*args):
    out = subprocess.run([BINARY, "run", *args], capture_output=True, text=True, timeout=60,
                         env=dict(os.environ, AWS_REGION="us-east-1"))
    return out


def test_run_the_example_from_its_template():
    out = stepwise_run(
        "--template", os.path.join(APP, "template.yaml"),
        "--input", "@" + os.path.join(APP, "input.json"),
        "--mock-config", os.path.join(APP, "mocks.json"), "--test-case", "Saved", "--history",
    )
    assert out.returncode == 0, out.stderr
    lines = [json.loads(line) for line in out.stdout.splitlines()]
    result = lines[-1]
    assert result["status"] == "SUCCEEDED", result
    assert result["output"] == {
        "id": "order-7", "quantity": 12, "pricedBy": FUNCTION, "tier": "bulk",
        "saved": {"table": "orders-dev", "status": 200},
    }
    scheduled = [e for e in lines[:-1] if e["type"] == "TaskScheduled"]
    assert json.loads(scheduled[0]["taskScheduledEventDetails"]["parameters"])["TableName"] == "orders-dev"


def test_the_example_script_takes_parameter_overrides():
    out = subprocess.run(["bash", os.path.join(APP, "run.sh"), "Stage=prod"], capture_output=True,
                         text=True, timeout=120, env=dict(os.environ, STEPWISE_BIN=BINARY))
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.splitlines()[-1])
    assert result["output"]["saved"]["table"] == "orders-prod"
    assert result["states_entered"] == ["Normalize", "BigOrder?", "Bulk", "SaveOrder"]


@pytest.mark.parametrize("args, message", [
    ([], "give a definition file (ASL JSON) or --template"),
    (["--state-machine", "Nope"], "no state machine 'Nope' (the template has OrdersStateMachine)"),
    (["--parameter-overrides", "Stag=x"], "--parameter-overrides Stag: the template has no such parameter"),
])
def test_run_errors_name_what_is_wrong(args, message):
    template = ["--template", os.path.join(APP, "template.yaml")] if args else []
    out = stepwise_run(*template, *args)
    assert out.returncode == 2
    assert message in out.stderr


def test_missing_definition_file_points_at_the_property(tmp_path):
    app = shutil.copytree(APP, tmp_path / "app")
    os.remove(app / "statemachine" / "orders.asl.json")
    out = stepwise_run("--template", str(app / "template.yaml"))
    assert out.returncode == 2
    assert ("template.yaml: Resources.OrdersStateMachine.Properties.DefinitionUri: "
            "no such file 'statemachine/orders.asl.json'") in out.stderr


def definition_of(sfn):
    return json.loads(sfn.describe_state_machine(stateMachineArn=MACHINE)["definition"])


def wait_until(check, timeout=5.0):
    deadline = time.time() + timeout
    while True:
        value = check()
        if value or time.time() > deadline:
            return value
        time.sleep(0.1)


def test_serve_creates_the_machines_and_follows_the_files(tmp_path):
    app = shutil.copytree(APP, tmp_path / "app")
    server = Server(["--in-memory", "--template", str(app / "template.yaml"), "--watch"]).start()
    try:
        sfn = client(server.url)
        described = sfn.describe_state_machine(stateMachineArn=MACHINE)
        assert described["type"] == "STANDARD"
        definition = json.loads(described["definition"])
        assert definition["States"]["SaveOrder"]["Parameters"]["TableName"] == "orders-dev"
        assert definition["States"]["Normalize"]["Parameters"]["pricedBy"] == FUNCTION

        asl = app / "statemachine" / "orders.asl.json"
        changed = json.loads(asl.read_text())
        changed["States"]["Retail"]["Result"] = "walk-in"
        asl.write_text(json.dumps(changed))
        assert wait_until(lambda: definition_of(sfn)["States"]["Retail"]["Result"] == "walk-in")

        # A broken template keeps the last good machine; a fixed one is read again.
        template = app / "template.yaml"
        good = template.read_text()
        template.write_text(good + "\n  Broken: [\n")
        time.sleep(1.5)
        assert definition_of(sfn)["States"]["Retail"]["Result"] == "walk-in"
        assert server.proc.poll() is None
        template.write_text(good.replace("Default: dev", "Default: qa"))
        assert wait_until(lambda: definition_of(sfn)["States"]["SaveOrder"]["Parameters"]["TableName"]
                          == "orders-qa")
        server.stop()
        log = server.proc.stderr.read()
        assert "updated the state machine OrdersStateMachine" in log
        assert log.count("not valid YAML") == 1, log  # said once, not every second
    finally:
        server.stop()
