"""Starts `stepwise serve` for the API tests and hands out real clients."""
import json
import os
import queue
import re
import signal
import socket
import subprocess
import threading
import time
import uuid

import boto3
from botocore.config import Config
import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BINARY = os.environ.get("STEPWISE_BIN", os.path.join(ROOT, "target", "debug", "stepwise"))
ROLE = "arn:aws:iam::123456789012:role/stepwise-test"


class Server:
    def __init__(self, args, env=None):
        self.args = args
        self.env = env
        self.proc = None
        self.url = None

    def start(self):
        env = dict(os.environ, **(self.env or {}))
        self.proc = subprocess.Popen(
            [BINARY, "serve", "--addr", "127.0.0.1:0", *self.args],
            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env,
        )
        line = self.proc.stderr.readline()
        m = re.search(r"http://(\S+)", line)
        assert m, f"stepwise serve did not start: {line!r}"
        self.url = "http://" + m.group(1)
        return self

    def kill(self):
        """kill -9: no chance to clean up."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)


AWS = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_REGION": "us-east-1"}


def serve_on(backend, moto, prefix, args=(), services=False, env=None):
    """`stepwise serve` on `backend`: "embedded" (in memory) or "aws"
    (DynamoDB and SQS in moto, a table and queue of its own), started.
    `services`: the embedded server's service integrations call moto too.
    `env` is added to the server's environment."""
    if backend == "embedded":
        base = dict(AWS, AWS_ENDPOINT_URL=moto) if services else {}
        return Server(["--in-memory", *args], env=dict(base, **(env or {}))).start()
    name = prefix + "-" + uuid.uuid4().hex[:8]
    return Server(["--backend", "aws", "--create-resources", "--table", name, "--queue", name, *args],
                  env=dict(AWS, AWS_ENDPOINT_URL=moto, **(env or {}))).start()


def durable(backend, moto, tmp_path, prefix="durable"):
    """Arguments and environment of a server on `backend` whose store
    outlives it: a SQLite file in `tmp_path` (the embedded backend), or a
    DynamoDB table and SQS queue in moto; and the table's name."""
    if backend == "embedded":
        return ["--data", str(tmp_path)], None, None
    table = prefix + "-" + uuid.uuid4().hex[:8]
    args = ["--backend", "aws", "--create-resources", "--table", table, "--queue", table]
    return args, dict(AWS, AWS_ENDPOINT_URL=moto), table


def run_machine(path, *args, env=None, timeout=60):
    """`stepwise run <path> <args>`: the result line, parsed. `env` is added
    to this process's environment."""
    out = subprocess.run([BINARY, "run", str(path), *args], capture_output=True, text=True,
                         timeout=timeout, env=dict(os.environ, **(env or {})))
    assert "panicked" not in out.stderr, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def client(url, region="us-east-1"):
    # StartSyncExecution's model adds a "sync-" host prefix, which a local
    # endpoint cannot answer to: turn host prefixes off.
    return boto3.client(
        "stepfunctions", endpoint_url=url, region_name=region,
        aws_access_key_id="test", aws_secret_access_key="test",
        config=Config(inject_host_prefix=False),
    )


# The serve backends every API test runs on: the serverless stepper and its
# API on SQLite (embedded), and on DynamoDB and SQS in moto (aws).
BACKENDS = os.environ.get("STEPWISE_TEST_BACKENDS", "embedded,aws").split(",")


@pytest.fixture(params=BACKENDS)
def server(request, moto):
    """`stepwise serve` on each backend in turn, a server per test."""
    s = serve_on(request.param, moto, "api")
    yield s
    s.stop()


@pytest.fixture
def sfn(server):
    return client(server.url)


def wait_for(sfn, arn, timeout=10.0):
    """Polls DescribeExecution until the execution is no longer RUNNING."""
    deadline = time.time() + timeout
    while True:
        d = sfn.describe_execution(executionArn=arn)
        if d["status"] != "RUNNING" or time.time() > deadline:
            return d
        time.sleep(0.02)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def moto():
    # moto binds a port of its own choosing and says which: a port picked
    # here and handed over could be taken by another server meanwhile (moto
    # takes a second or two to start), and this fixture would wait on that.
    proc = subprocess.Popen(
        ["bash", os.path.join(ROOT, "infra", "local-aws"), "0"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, errors="replace",
    )
    said = queue.Queue()

    def read():  # to the end: moto logs every request on stderr
        for line in proc.stderr:
            found = re.search(r"Running on http://127\.0\.0\.1:(\d+)", line)
            if found:
                said.put(int(found.group(1)))
        said.put(None)
    threading.Thread(target=read, daemon=True).start()
    try:
        try:
            port = said.get(timeout=60)
        except queue.Empty:
            port = None
        assert port, "moto server did not start"
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait()


