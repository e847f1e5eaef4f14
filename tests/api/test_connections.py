"""Connections: idle or half-sent ones are cut off and cannot starve real
clients, while a long poll that outlives the head timeout still answers."""
import json
import socket
import threading
import time
from urllib.parse import urlparse

from conftest import ROLE, Server, client

ACTIVITY = "arn:aws:states:us-east-1:123456789012:activity:work"
HEAD_TIMEOUT = 10  # seconds: serve/listener.rs


def closed_within(conn, seconds):
    """Whether the server closes `conn` within `seconds` (it may answer first)."""
    conn.settimeout(seconds)
    try:
        while conn.recv(4096):
            pass
        return True
    except socket.timeout:
        return False
    except ConnectionResetError:
        return True


def test_idle_and_half_sent_connections_do_not_starve_clients():
    s = Server(["--in-memory"]).start()
    try:
        sfn = client(s.url)
        url = urlparse(s.url)
        addr = (url.hostname, url.port)
        sfn.create_activity(name="work")
        task = {"Type": "Task", "Resource": ACTIVITY, "End": True}
        m = sfn.create_state_machine(
            name="act", roleArn=ROLE,
            definition=json.dumps({"StartAt": "T", "States": {"T": task}}),
        )["stateMachineArn"]

        # A worker's long poll, held past the head timeout below.
        got = []
        poller = threading.Thread(
            target=lambda: got.append(client(s.url).get_activity_task(activityArn=ACTIVITY)))
        poller.start()

        idle = [socket.create_connection(addr) for _ in range(300)]
        half = []
        for _ in range(20):
            c = socket.create_connection(addr)
            c.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: AWSStepFunctions.ListAct")
            half.append(c)
        started = time.time()
        assert sfn.list_state_machines()["stateMachines"][0]["name"] == "act"

        assert closed_within(half[0], HEAD_TIMEOUT + 2)
        assert time.time() - started < HEAD_TIMEOUT + 2
        # The rest were opened no later: each is closed by the time the
        # last could be (a loaded machine accepts and closes them over a
        # few seconds, not all in the same one).
        deadline = started + HEAD_TIMEOUT + 5
        still_open = [i for i, c in enumerate(half[1:] + idle[:10])
                      if not closed_within(c, max(0.1, deadline - time.time()))]
        assert still_open == []

        # The poll is still waiting, and answers with the task.
        assert poller.is_alive() and not got
        ex = sfn.start_execution(stateMachineArn=m, input='{"job": 7}')["executionArn"]
        poller.join(timeout=5)
        assert json.loads(got[0]["input"]) == {"job": 7}
        sfn.send_task_success(taskToken=got[0]["taskToken"], output="{}")
        assert sfn.describe_execution(executionArn=ex)["executionArn"] == ex
        for c in idle + half:
            c.close()
    finally:
        s.stop()


def test_a_keep_alive_connection_serves_again_after_a_pause():
    s = Server(["--in-memory"]).start()
    try:
        url = urlparse(s.url)
        conn = socket.create_connection((url.hostname, url.port))
        body = b"{}"
        request = (b"POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: AWSStepFunctions.ListActivities\r\n"
                   b"Content-Type: application/x-amz-json-1.0\r\nContent-Length: 2\r\n\r\n" + body)
        conn.sendall(request)
        assert conn.recv(4096).startswith(b"HTTP/1.1 200")
        time.sleep(3)
        conn.sendall(request)
        assert conn.recv(4096).startswith(b"HTTP/1.1 200")
        conn.close()
    finally:
        s.stop()
