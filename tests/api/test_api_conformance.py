"""The API conversations recorded on AWS (`../shared/conformance/api`),
replayed by its `run_api.py` against both `stepwise serve` backends: the
embedded one (the stepper on SQLite) and `--backend aws` on moto server.
Each backend must
pass at least as many cases as `api-conformance-baseline.json` says (raise
it as cases start to pass; never lower it), with AWS's error messages
compared (`with messages`) and without."""
import json
import os
import re
import subprocess
import sys
import tempfile
import uuid

import pytest

from conftest import BACKENDS, ROOT, Server

RUNNER = os.path.join(ROOT, "..", "shared", "conformance", "api", "run_api.py")
BASELINE = os.path.join(ROOT, "api-conformance-baseline.json")

if not os.path.exists(RUNNER):
    if os.environ.get("CI") == "true":
        raise RuntimeError(f"CI needs the recorded API corpus at {RUNNER}")
    pytest.skip(f"SKIPPED: the AWS-recorded API corpus is not at {RUNNER}", allow_module_level=True)


def run_cases(url, report, filters=()):
    args = [sys.executable, RUNNER, "--endpoint", url, "-j", "4", "--compare-messages",
            "--json-report", report]
    for f in filters:
        args += ["--filter", f]
    out = subprocess.run(args, capture_output=True, text=True, timeout=600)
    print(out.stdout[-3000:])
    m = re.search(r"^(\d+) passed, (\d+) failed$", out.stdout, re.M)
    assert m, f"run_api.py printed no result line:\n{out.stdout[-2000:]}\n{out.stderr[-2000:]}"
    with open(report) as f:
        cases = json.load(f)["cases"]
    return [c for c in cases if not c["passed"]], len(cases)


def only_messages(case):
    """Whether a case failed on AWS's message texts alone."""
    return all(f["kind"] == "value" and f.get("path", "").lower().endswith("message")
               for f in case["failures"])


def replay(url):
    """Cases passed, with AWS's error messages compared and without. A case
    that fails is replayed once more on its own: a conversation whose timing
    races the engine under load (a stop against the first step) is not a
    regression; one that fails twice is."""
    report = os.path.join(tempfile.mkdtemp(), "api.json")
    failed, total = run_cases(url, report)
    if failed:
        failed, _ = run_cases(url, report, [f"{c['module']}/{c['name']}" for c in failed])
        print("failed twice:", sorted(c["name"] for c in failed))
    wrong = [c for c in failed if not only_messages(c)]
    print("messages differ:", sorted(c["name"] for c in failed if only_messages(c)))
    return total - len(wrong), total - len(failed)


def check(backend, passed):
    with open(BASELINE) as f:
        floor = json.load(f)
    assert passed[0] >= floor[backend], passed
    assert passed[1] >= floor["with messages"][backend], passed


@pytest.mark.parametrize("backend", [b for b in BACKENDS if b != "aws"])
def test_recorded_api_conversations_on_sqlite(backend, tmp_path):
    """The embedded backend (the stepper with its API on SQLite), on a
    file: reads are answered on reader connections, as a user's are."""
    s = Server(["--data", str(tmp_path), "--backend", backend]).start()
    try:
        passed = replay(s.url)
    finally:
        s.stop()
    check(backend, passed)


@pytest.mark.skipif("aws" not in BACKENDS, reason="STEPWISE_TEST_BACKENDS leaves aws out")
def test_recorded_api_conversations_on_the_serverless_backend(moto):
    env = {
        "AWS_ENDPOINT_URL": moto, "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test", "AWS_REGION": "us-east-1",
    }
    name = "api-replay-" + uuid.uuid4().hex[:8]
    s = Server(["--backend", "aws", "--create-resources", "--table", name, "--queue", name],
               env=env).start()
    try:
        passed = replay(s.url)
    finally:
        s.stop()
    check("aws", passed)
