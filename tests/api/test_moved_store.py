"""A store written by an earlier release, whose embedded backend had a
SQLite driver of its own (the worker), served by `stepwise serve` now that
the stepper is its one driver: ended executions are moved over and read as
they were; a store with a running execution is refused and left alone."""
import json
import sqlite3
import subprocess
import time

import pytest

from conftest import BINARY, Server, client, wait_for

ARN = "arn:aws:states:us-east-1:123456789012:execution:old:e1"
MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:old"

# The worker's tables, as its last release created them.
WORKER = """
CREATE TABLE catalog (arn TEXT PRIMARY KEY, kind TEXT NOT NULL, parent TEXT NOT NULL,
  rev INTEGER NOT NULL, body TEXT NOT NULL);
CREATE TABLE executions (arn TEXT PRIMARY KEY, machine TEXT NOT NULL, version TEXT,
  name TEXT NOT NULL, status TEXT NOT NULL, input TEXT NOT NULL, output TEXT, error TEXT,
  cause TEXT, started INTEGER NOT NULL, stopped INTEGER, facts TEXT NOT NULL,
  next_event INTEGER NOT NULL, redrive_count INTEGER NOT NULL DEFAULT 0, redrive_point TEXT,
  redrive_date INTEGER, parent TEXT, definition TEXT, alias TEXT, numbering TEXT, eid INTEGER);
CREATE TABLE events (eid INTEGER NOT NULL, id INTEGER NOT NULL, previous INTEGER NOT NULL,
  ts INTEGER NOT NULL, type TEXT NOT NULL, details TEXT NOT NULL);
CREATE TABLE threads (execution TEXT NOT NULL, id TEXT NOT NULL, seq INTEGER NOT NULL,
  data TEXT NOT NULL, PRIMARY KEY (execution, id));
CREATE TABLE messages (id INTEGER PRIMARY KEY AUTOINCREMENT, execution TEXT NOT NULL,
  thread TEXT NOT NULL, due INTEGER NOT NULL, event TEXT NOT NULL, dispatch TEXT, started TEXT);
"""

DEFINITION = {"StartAt": "P", "States": {"P": {"Type": "Parallel", "End": True, "Branches": [
    {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}},
    {"StartAt": "B", "States": {"B": {"Type": "Pass", "End": True}}}]}}}


def worker_store(path, status, point=None):
    # An hour ago: well inside the retention `serve` keeps ended executions for.
    start = int(time.time() * 1000) - 3_600_000
    facts = {"arn": ARN, "name": "e1", "input": {"n": 1}, "start_time": start,
             "role_arn": "arn:aws:iam::123456789012:role/r", "state_machine_arn": MACHINE,
             "state_machine_name": "old", "redrive_count": 0}
    db = sqlite3.connect(path)
    db.executescript(WORKER)
    db.execute(
        "INSERT INTO executions (arn, machine, name, status, input, output, error, started, stopped,"
        " facts, next_event, definition, eid, redrive_point) VALUES (?, ?, 'e1', ?, '{\"n\": 1}', ?, ?,"
        " ?, ?, ?, 10, ?, 1, ?)",
        (ARN, MACHINE, status, None if point else '[{"n":1},{"n":1}]', "Broke" if point else None,
         start, start + 9, json.dumps(facts), json.dumps(DEFINITION), json.dumps(point) if point else None))
    # As the worker kept them: values, not JSON text.
    one, both = {"n": 1}, [{"n": 1}, {"n": 1}]
    events = [
        (1, 0, "ExecutionStarted", {"input": one, "inputDetails": {"truncated": False}}),
        (2, 0, "ParallelStateEntered", {"name": "P", "input": one}),
        (3, 2, "ParallelStateStarted", {}),
        (4, 3, "PassStateEntered", {"name": "A", "input": one}),
        (5, 3, "PassStateEntered", {"name": "B", "input": one}),
        (6, 4, "PassStateExited", {"name": "A", "output": one}),
        (7, 5, "PassStateExited", {"name": "B", "output": one}),
        (8, 7, "ParallelStateSucceeded", {}),
        (9, 8, "ParallelStateExited", {"name": "P", "output": both}),
        (10, 9, "ExecutionSucceeded", {"output": both}),
    ]
    if point:
        events[-1] = (10, 9, "ExecutionFailed", {"error": "Broke"})
    for i, prev, kind, details in events:
        db.execute("INSERT INTO events VALUES (1, ?, ?, ?, ?, ?)",
                   (i, prev, start + i, kind, json.dumps(details)))
    db.commit()
    db.close()


def test_an_ended_execution_of_an_earlier_store_is_served_as_it_was(tmp_path):
    worker_store(tmp_path / "stepwise.db", "SUCCEEDED")
    s = Server(["--data", str(tmp_path)]).start()
    try:
        sfn = client(s.url)
        d = sfn.describe_execution(executionArn=ARN)
        assert (d["status"], d["input"], json.loads(d["output"])) == ("SUCCEEDED", '{"n": 1}', [{"n": 1}, {"n": 1}])
        assert d["stateMachineArn"] == MACHINE
        events = sfn.get_execution_history(executionArn=ARN)["events"]
        assert [(e["id"], e["previousEventId"], e["type"]) for e in events] == [
            (1, 0, "ExecutionStarted"), (2, 0, "ParallelStateEntered"), (3, 2, "ParallelStateStarted"),
            (4, 3, "PassStateEntered"), (5, 3, "PassStateEntered"), (6, 4, "PassStateExited"),
            (7, 5, "PassStateExited"), (8, 7, "ParallelStateSucceeded"), (9, 8, "ParallelStateExited"),
            (10, 9, "ExecutionSucceeded")]
        assert events[4]["stateEnteredEventDetails"]["name"] == "B"
        newest = sfn.get_execution_history(executionArn=ARN, reverseOrder=True, maxResults=1)["events"]
        assert newest[0]["executionSucceededEventDetails"]["output"] == '[{"n":1},{"n":1}]'
    finally:
        s.stop()
    moved = sqlite3.connect(tmp_path / "stepwise.db")
    assert moved.execute("SELECT COUNT(*) FROM moved_events").fetchone() == (10,)


def test_a_failed_execution_of_an_earlier_store_is_redriven_from_where_it_failed(tmp_path):
    """The worker kept where a redrive starts on the execution, not in a
    thread record: it moves with it, and the redrive runs from there, the
    definition the execution ran with moved too (its machine is gone)."""
    point = {"state": "P", "input": {"n": 1}, "variables": {}, "waits": 0}
    worker_store(tmp_path / "stepwise.db", "FAILED", point)
    s = Server(["--data", str(tmp_path)]).start()
    try:
        sfn = client(s.url)
        assert sfn.describe_execution(executionArn=ARN)["redriveStatus"] == "REDRIVABLE"
        sfn.redrive_execution(executionArn=ARN)
        d = wait_for(sfn, ARN)
        assert (d["status"], json.loads(d["output"]), d["redriveCount"]) == ("SUCCEEDED", [{"n": 1}, {"n": 1}], 1)
        events = sfn.get_execution_history(executionArn=ARN)["events"]
        assert [e["type"] for e in events[9:12]] == ["ExecutionFailed", "ExecutionRedriven", "ParallelStateEntered"]
        assert events[-1]["type"] == "ExecutionSucceeded" and events[-1]["id"] == len(events)
        with pytest.raises(sfn.exceptions.ExecutionNotRedrivable):
            sfn.redrive_execution(executionArn=ARN)
    finally:
        s.stop()


def test_an_earlier_store_with_a_running_execution_is_refused_unchanged(tmp_path):
    worker_store(tmp_path / "stepwise.db", "RUNNING")
    out = subprocess.run([BINARY, "serve", "--addr", "127.0.0.1:0", "--data", str(tmp_path)],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode != 0
    assert "1 of its executions are still running" in out.stderr, out.stderr
    assert "panicked" not in out.stderr
    db = sqlite3.connect(tmp_path / "stepwise.db")
    assert db.execute("SELECT status FROM executions").fetchone() == ("RUNNING",)
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert not any(t.startswith("st_") for t in tables), tables
