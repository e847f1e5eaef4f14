"""A `.sync` task stops the job it follows once the task gives up on it —
its TimeoutSeconds pass, its Parallel branch is cancelled, its execution is
stopped — as Step Functions does, in `stepwise run` and on both serve
backends. Athena in moto server stands in for the job: its state manager
keeps queries RUNNING until StopQueryExecution cancels them."""
import contextlib
import json
import os
import subprocess
import time
import urllib.request
import uuid

import boto3
import pytest

from conftest import BACKENDS, BINARY, ROLE, Server, client, durable, run_machine, serve_on, wait_for

AWS = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_REGION": "us-east-1"}
QUERY = "arn:aws:states:::athena:startQueryExecution.sync"


@contextlib.contextmanager
def queries_never_finish(moto):
    """moto's Athena queries stay QUEUED until cancelled, for the block."""
    def post(path, body):
        req = urllib.request.Request(f"{moto}/moto-api/state-manager/{path}",
                                     data=json.dumps(body).encode(), method="POST")
        urllib.request.urlopen(req).read()
    post("set-transition", {"model_name": "athena::execution",
                            "transition": {"progression": "manual", "times": 10**9}})
    try:
        yield
    finally:
        post("unset-transition", {"model_name": "athena::execution"})


def athena(moto):
    return boto3.client("athena", endpoint_url=moto, region_name="us-east-1",
                        aws_access_key_id="test", aws_secret_access_key="test")


def query_task(tag, **extra):
    """A `.sync` query in a work group of its own, named by `tag`."""
    return {"Type": "Task", "Resource": QUERY, "End": True,
            "Parameters": {"QueryString": f"SELECT '{tag}'", "WorkGroup": work_group(tag),
                           "ResultConfiguration": {"OutputLocation": "s3://results/"}}, **extra}


def work_group(tag):
    return f"wg-{tag}"


@pytest.fixture
def tag(moto):
    """A fresh tag, with its Athena work group."""
    t = uuid.uuid4().hex[:8]
    athena(moto).create_work_group(Name=work_group(t))
    return t


def query_state(moto, tag, until=("SUCCEEDED", "FAILED", "CANCELLED"), timeout=15.0):
    """The states of the queries in `tag`'s work group, once there is one in
    a state of `until` (or when `timeout` passes)."""
    a = athena(moto)
    deadline = time.time() + timeout
    while True:
        ids = a.list_query_executions(WorkGroup=work_group(tag))["QueryExecutionIds"]
        states = [a.get_query_execution(QueryExecutionId=q)["QueryExecution"]["Status"]["State"] for q in ids]
        if (states and states[0] in until) or time.time() > deadline:
            return states
        time.sleep(0.1)


def test_a_timed_out_sync_task_stops_its_job_in_stepwise_run(moto, tag, tmp_path):
    path = tmp_path / "m.json"
    path.write_text(json.dumps({"StartAt": "Q", "States": {"Q": query_task(tag, TimeoutSeconds=1)}}))
    with queries_never_finish(moto):
        result = run_machine(path, "--history", env=dict(AWS, AWS_ENDPOINT_URL=moto))
        assert result["status"] == "FAILED" and result["error"] == "States.Timeout", result
        assert query_state(moto, tag) == ["CANCELLED"]


@pytest.fixture(scope="module", params=BACKENDS)
def served(request, moto):
    s = serve_on(request.param, moto, "syncjobs", services=True)
    yield s
    s.stop()


def start(served, name, definition):
    sfn = client(served.url)
    arn = sfn.create_state_machine(name=f"{name}-{uuid.uuid4().hex[:6]}", roleArn=ROLE,
                                   definition=json.dumps(definition))["stateMachineArn"]
    return sfn, sfn.start_execution(stateMachineArn=arn)["executionArn"]


def test_a_sync_task_stops_its_job_when_a_sibling_branch_fails(served, moto, tag):
    definition = {"StartAt": "Both", "States": {"Both": {"Type": "Parallel", "End": True, "Branches": [
        {"StartAt": "Q", "States": {"Q": query_task(tag)}},
        {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 1, "Next": "F"},
                                    "F": {"Type": "Fail", "Error": "Broken", "Cause": "on purpose"}}}]}}}
    with queries_never_finish(moto):
        sfn, arn = start(served, "branch", definition)
        d = wait_for(sfn, arn, timeout=20)
        assert d["status"] == "FAILED" and d["error"] == "Broken", d
        assert query_state(moto, tag) == ["CANCELLED"]


def test_a_sync_task_stops_its_job_when_its_execution_is_stopped(served, moto, tag):
    with queries_never_finish(moto):
        sfn, arn = start(served, "stop", {"StartAt": "Q", "States": {"Q": query_task(tag)}})
        assert query_state(moto, tag, until=("QUEUED",)) == ["QUEUED"], "the query should be running"
        sfn.stop_execution(executionArn=arn, error="Enough")
        assert wait_for(sfn, arn)["status"] == "ABORTED"
        assert query_state(moto, tag) == ["CANCELLED"]


def test_an_emr_on_eks_job_is_followed_and_cancelled_when_its_task_times_out(moto, tmp_path):
    """emr-containers (a camelCase restJson API): the job run started with
    Step Functions' PascalCase parameters, followed with describeJobRun
    (moto keeps it RUNNING), cancelled with cancelJobRun on the timeout."""
    emr = boto3.client("emr-containers", endpoint_url=moto, region_name="us-east-1",
                       aws_access_key_id="test", aws_secret_access_key="test")
    cluster = emr.create_virtual_cluster(
        name=f"vc-{uuid.uuid4().hex[:6]}",
        containerProvider={"type": "EKS", "id": "eks-cluster", "info": {"eksInfo": {"namespace": "jobs"}}})["id"]
    path = tmp_path / "m.json"
    path.write_text(json.dumps({"StartAt": "Run", "States": {"Run": {
        "Type": "Task", "Resource": "arn:aws:states:::emr-containers:startJobRun.sync", "TimeoutSeconds": 1,
        "End": True, "Parameters": {
            "VirtualClusterId": cluster, "Name": "spark", "ExecutionRoleArn": ROLE, "ReleaseLabel": "emr-6.2.0-latest",
            "JobDriver": {"SparkSubmitJobDriver": {"EntryPoint": "s3://code/pi.py"}}}}}}))
    result = run_machine(path, env=dict(AWS, AWS_ENDPOINT_URL=moto))
    assert result["status"] == "FAILED" and result["error"] == "States.Timeout", result
    runs = emr.list_job_runs(virtualClusterId=cluster)["jobRuns"]
    assert [(r["name"], r["state"]) for r in runs] == [("spark", "CANCELLED")]


def test_running_jobs_hold_no_stepper(served, moto):
    """Four `.sync` jobs that never end (more than `serve --backend aws`
    runs stepper loops) while another execution runs to its end: a job is
    looked at by delayed messages, not waited for inside a step."""
    with queries_never_finish(moto):
        tags = [uuid.uuid4().hex[:8] for _ in range(4)]
        for t in tags:
            athena(moto).create_work_group(Name=work_group(t))
        jobs = [start(served, "held", {"StartAt": "Q", "States": {"Q": query_task(t)}}) for t in tags]
        for t in tags:
            assert query_state(moto, t, until=("QUEUED",)) == ["QUEUED"], "the queries should be running"
        sfn, arn = start(served, "quick", {"StartAt": "W", "States": {
            "W": {"Type": "Wait", "Seconds": 1, "Next": "P"}, "P": {"Type": "Pass", "End": True}}})
        assert wait_for(sfn, arn, timeout=10)["status"] == "SUCCEEDED"
        for sfn, job in jobs:
            assert sfn.describe_execution(executionArn=job)["status"] == "RUNNING"
            sfn.stop_execution(executionArn=job)
        for t in tags:
            assert query_state(moto, t) == ["CANCELLED"]


def task_events(events):
    return [(e["type"], e.get("taskSubmittedEventDetails") or e.get("taskSucceededEventDetails"))
            for e in events if e["type"] in ("TaskScheduled", "TaskStarted", "TaskSubmitted", "TaskSucceeded")]


def check_sync_history(events):
    """TaskScheduled, TaskStarted, TaskSubmitted (the start's answer),
    TaskSucceeded (the job), as AWS writes a `.sync` task's history."""
    kinds = task_events(events)
    assert [k for k, _ in kinds] == ["TaskScheduled", "TaskStarted", "TaskSubmitted", "TaskSucceeded"], kinds
    submitted, succeeded = kinds[2][1], kinds[3][1]
    out = submitted["output"]
    out = json.loads(out) if isinstance(out, str) else out
    done = succeeded["output"]
    done = json.loads(done) if isinstance(done, str) else done
    assert out["QueryExecutionId"] == done["QueryExecution"]["QueryExecutionId"]
    assert submitted["resource"] == "startQueryExecution.sync" and submitted["resourceType"] == "athena"


def test_a_sync_task_history_has_task_submitted_in_stepwise_run(moto, tag, tmp_path):
    path = tmp_path / "m.json"
    path.write_text(json.dumps({"StartAt": "Q", "States": {"Q": query_task(tag)}}))
    out = subprocess.run([BINARY, "run", str(path), "--history"], capture_output=True, text=True,
                         timeout=60, env=dict(os.environ, AWS_ENDPOINT_URL=moto, **AWS))
    lines = [json.loads(line) for line in out.stdout.strip().splitlines()]
    assert lines[-1]["status"] == "SUCCEEDED", lines[-1]
    check_sync_history(lines[:-1])


def test_a_sync_task_history_has_task_submitted(served, moto, tag):
    sfn, arn = start(served, "hist", {"StartAt": "Q", "States": {"Q": query_task(tag)}})
    assert wait_for(sfn, arn, timeout=20)["status"] == "SUCCEEDED"
    check_sync_history(sfn.get_execution_history(executionArn=arn)["events"])


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_job_running_when_the_server_is_killed_is_followed_not_started_again(backend, moto, tag, tmp_path):
    env = dict(AWS, AWS_ENDPOINT_URL=moto)
    table = f"restart{tag}"
    args = durable(backend, moto, tmp_path, table)[0]
    s = Server(args, env=env).start()
    try:
        with queries_never_finish(moto):
            sfn, arn = start(s, "restart", {"StartAt": "Q", "States": {"Q": query_task(tag)}})
            assert query_state(moto, tag, until=("QUEUED",)) == ["QUEUED"], "the query should be running"
            deadline = time.time() + 10
            while "TaskSubmitted" not in [e["type"] for e in sfn.get_execution_history(executionArn=arn)["events"]]:
                assert time.time() < deadline, "no TaskSubmitted"
                time.sleep(0.1)
            s.kill()
            s = Server(args, env=env).start()
            sfn = client(s.url)
            time.sleep(1.5)  # the restarted server takes up the job
        d = wait_for(sfn, arn, timeout=30)
        assert d["status"] == "SUCCEEDED", d
        assert query_state(moto, tag) == ["SUCCEEDED"], "one query, followed to its end"
        types = [e["type"] for e in sfn.get_execution_history(executionArn=arn)["events"]]
        assert types.count("TaskSubmitted") == 1 and types.count("TaskStarted") == 1, types
    finally:
        s.stop()
