"""The examples in examples/ run with their one command and give the
results their READMEs promise."""
import json
import os
import subprocess

from conftest import BINARY, ROOT


def run(script, *args):
    out = subprocess.run(["bash", os.path.join(ROOT, "examples", script), *args],
                         env=dict(os.environ, STEPWISE_BIN=BINARY),
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout


def last_json(text):
    return json.loads(text[text.rindex("\n{") + 1:] if "\n{" in text else text)


def test_human_approval_ships_when_approved_and_cancels_when_rejected():
    approved = last_json(run("human-approval/run.sh"))
    assert approved["status"] == "SUCCEEDED"
    assert json.loads(approved["output"]) == {"status": "shipped", "order": "A-1001", "approvedBy": "dana"}
    rejected = last_json(run("human-approval/run.sh", "reject"))
    assert json.loads(rejected["output"]) == {"status": "cancelled", "order": "A-1001", "reason": "over budget"}


def test_order_saga_compensates_a_declined_payment():
    happy = json.loads(run("order-saga/run.sh"))
    assert happy["output"] == {"order": "O-7", "status": "confirmed", "reservation": "R-1", "payment": "P-9"}
    declined = json.loads(run("order-saga/run.sh", "PaymentDeclined"))
    assert (declined["status"], declined["error"], declined["cause"]) == ("FAILED", "PaymentDeclined", "card expired")
    assert {"ReleaseInventory", "RefundPayment"} <= set(declined["states_entered"])


def test_map_calls_the_lambda_per_item_and_catches_the_unknown_one():
    out = json.loads(run("map-lambda/run.sh"))
    assert out["status"] == "SUCCEEDED"
    assert out["output"]["total"] == 15.7
    assert out["output"]["lines"][3] == {"sku": "unicorn", "total": 0, "note": "unknown item"}
