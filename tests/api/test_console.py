"""The web console at /console/ of `stepwise serve`, on both backends
(embedded; `--backend aws` on moto): its routes and content types, the
graph picture, escaping, a failure shown, a task token exposed and the
call its page makes to answer it; then the pages in headless Chromium:
their DOM as rendered (`--dump-dom`), a screenshot kept in
tests/api/artifacts/, and the buttons pressed through the DevTools
protocol (browser.py): start, stop, send success, a live update."""
import json
import os
import re
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
import xml.etree.ElementTree as ET

import boto3
import pytest

from browser import CHROMIUM, FLAGS, Browser
from conftest import BACKENDS, ROLE, client, serve_on, wait_for

AWS = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_REGION": "us-east-1",
       "AWS_DEFAULT_REGION": "us-east-1"}
ARTIFACTS = os.path.join(os.path.dirname(__file__), "artifacts")

PASS = {"StartAt": "Hello", "States": {"Hello": {"Type": "Pass", "Result": {"hi": 1}, "Next": "World"},
                                       "World": {"Type": "Pass", "End": True}}}
WAIT = {"StartAt": "Pause", "States": {"Pause": {"Type": "Wait", "Seconds": 3, "Next": "After"},
                                       "After": {"Type": "Pass", "End": True}}}
ORDER = {
    "Comment": "An order: checked, paid and reserved at once, then shipped.",
    "StartAt": "Validate",
    "States": {
        "Validate": {"Type": "Pass", "Next": "Approved?"},
        "Approved?": {"Type": "Choice", "Choices": [
            {"Variable": "$.approved", "BooleanEquals": True, "Next": "Fulfil"}], "Default": "Rejected"},
        "Fulfil": {"Type": "Parallel", "ResultPath": "$.fulfilment", "Next": "Ship", "Branches": [
            {"StartAt": "Charge card", "States": {"Charge card": {"Type": "Pass", "End": True}}},
            {"StartAt": "Reserve stock", "States": {"Reserve stock": {"Type": "Pass", "End": True}}}]},
        "Ship": {"Type": "Pass", "Result": "shipped", "ResultPath": "$.shipping", "End": True},
        "Rejected": {"Type": "Fail", "Error": "Order.Rejected", "Cause": "not approved"}}}

needs_chromium = pytest.mark.skipif(
    CHROMIUM is None and os.environ.get("CI") != "true",
    reason="chromium is not installed (scripts/setup-test-deps installs it; CI must have it)")


@pytest.fixture(scope="module", params=BACKENDS)
def served(request, moto):
    # Both backends reach moto for the SQS task of the approval test.
    s = serve_on(request.param, moto, "console", services=True)
    yield s
    s.stop()


def fresh(prefix="console"):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def create(sfn, definition, name=None):
    return sfn.create_state_machine(name=name or fresh(), roleArn=ROLE,
                                    definition=json.dumps(definition))["stateMachineArn"]


def get(url):
    """(status, content type, body text) of a GET, errors included."""
    try:
        with urllib.request.urlopen(url) as r:
            return r.status, r.headers["Content-Type"], r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers["Content-Type"], e.read().decode()


def api(base, action, body):
    """An API call as the console's script makes it."""
    req = urllib.request.Request(base + "/", method="POST", data=json.dumps(body).encode(), headers={
        "X-Amz-Target": "AWSStepFunctions." + action, "Content-Type": "application/x-amz-json-1.0"})
    with urllib.request.urlopen(req) as r:
        return json.load(r)


def execution_page(base, arn):
    return base + "/console/executions/" + urllib.parse.quote(arn, safe="")


def hrefs(page):
    return re.findall(r'href="([^"]+)"', page)


def chromium(tmp_path, url, *extra):
    assert CHROMIUM, "chromium is not installed: run scripts/setup-test-deps"
    out = subprocess.run(
        [CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path / 'chromium'}", "--virtual-time-budget=5000",
         *extra, url],
        capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout


def test_the_routes_answer_and_the_links_lead_on(served):
    sfn = client(served.url)
    name = fresh()
    arn = create(sfn, PASS, name)
    ex = sfn.start_execution(stateMachineArn=arn, input='{"n": 1}')["executionArn"]
    assert wait_for(sfn, ex)["status"] == "SUCCEEDED"

    status, kind, index = get(served.url + "/console")  # redirected to /console/
    assert (status, kind) == (200, "text/html; charset=utf-8")
    assert name in index
    machine_link = "/console/state-machines/" + urllib.parse.quote(arn, safe="")
    assert machine_link in hrefs(index)
    machine = get(served.url + machine_link)
    assert machine[0] == 200 and f"<h1>{name}</h1>" in machine[2]
    assert "&quot;StartAt&quot;: &quot;Hello&quot;" in machine[2]  # the definition, pretty-printed
    assert 'data-action="StartExecution"' in machine[2]

    # The machine's picture: every state, no colours.
    src = re.search(r'<img id="graph" src="([^"]+)"', machine[2]).group(1)
    status, kind, svg = get(served.url + src.replace("&amp;", "&"))
    assert (status, kind) == (200, "image/svg+xml")
    ET.fromstring(svg)
    assert 'data-state="Hello"' in svg and 'data-state="World"' in svg and "succeeded" not in svg

    # From the machine page to its execution, coloured by its history.
    ex_link = next(h for h in hrefs(machine[2]) if h.startswith("/console/executions/"))
    status, _, page = get(served.url + ex_link)
    assert status == 200 and "SUCCEEDED" in page
    for state in ("Hello", "World"):
        assert f'<td class="state-name">{state}</td>' in page
    for event in ("ExecutionStarted", "PassStateEntered", "PassStateExited", "ExecutionSucceeded"):
        assert f"<td>{event}</td>" in page
    status, kind, svg = get(served.url + "/console/graph.svg?executionArn=" + urllib.parse.quote(ex, safe=""))
    assert (status, kind) == (200, "image/svg+xml")
    assert re.search(r'class="node succeeded" data-state="Hello"', svg), svg

    assert get(served.url + "/console/console.css")[1] == "text/css"
    assert get(served.url + "/console/console.js")[1] == "text/javascript"
    # The API is still the API.
    assert api(served.url, "DescribeExecution", {"executionArn": ex})["status"] == "SUCCEEDED"


def test_a_missing_execution_or_argument_is_an_error_page(served):
    status, kind, page = get(served.url + "/console/executions/" + urllib.parse.quote(
        "arn:aws:states:us-east-1:123456789012:execution:nope:nope", safe=""))
    assert status in (400, 404) and kind.startswith("text/html") and "ExecutionDoesNotExist" in page
    status, _, text = get(served.url + "/console/graph.svg")
    assert status == 400 and "executionArn" in text


def test_names_and_data_are_escaped(served):
    sfn = client(served.url)
    evil = '<img src=x onerror="alert(1)">'
    arn = create(sfn, {"StartAt": evil, "States": {evil: {"Type": "Pass", "End": True}}})
    ex = sfn.start_execution(stateMachineArn=arn, input=json.dumps({"html": "<script>x()</script>"}))
    wait_for(sfn, ex["executionArn"])
    for url in (execution_page(served.url, ex["executionArn"]),
                served.url + "/console/state-machines/" + urllib.parse.quote(arn, safe="")):
        page = get(url)[2]
        assert "<img src=x" not in page and "<script>x()" not in page
        assert "&lt;img src=x onerror=" in page
    svg = get(served.url + "/console/graph.svg?stateMachineArn=" + urllib.parse.quote(arn, safe=""))[2]
    ET.fromstring(svg)


def test_a_failure_shows_its_error_and_cause_and_can_be_redriven(served):
    sfn = client(served.url)
    arn = create(sfn, ORDER)
    ex = sfn.start_execution(stateMachineArn=arn, input='{"approved": false}')["executionArn"]
    assert wait_for(sfn, ex)["status"] == "FAILED"
    page = get(execution_page(served.url, ex))[2]
    failure = re.search(r'<div class="failure" role="alert">(.*?)</div>', page, re.S).group(1)
    assert "Order.Rejected" in failure and "not approved" in failure
    assert 'data-action="RedriveExecution"' in page and 'data-action="StopExecution"' not in page
    # Each state's input and output, from its StateEntered and StateExited events.
    row = re.search(r'<td class="state-name">Validate</td>(.*?)</tr>', page, re.S).group(1)
    assert row.count("&quot;approved&quot;: false") == 2
    svg = get(served.url + "/console/graph.svg?executionArn=" + urllib.parse.quote(ex, safe=""))[2]
    assert re.search(r'class="node failed" data-state="Rejected"', svg)


def test_a_task_waiting_for_a_token_shows_it_and_the_page_call_answers_it(served, moto):
    sqs = boto3.client("sqs", endpoint_url=moto, region_name="us-east-1",
                       aws_access_key_id="test", aws_secret_access_key="test")
    url = sqs.create_queue(QueueName=fresh("console-approvals"))["QueueUrl"]
    sfn = client(served.url)
    arn = create(sfn, {"StartAt": "Ask", "States": {
        "Ask": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                "Parameters": {"QueueUrl": url, "MessageBody": {"token.$": "$$.Task.Token"}},
                "ResultPath": "$.decision", "End": True}}})
    ex = sfn.start_execution(stateMachineArn=arn, input='{"order": 7}')["executionArn"]
    deadline = time.time() + 20
    messages = []
    while not messages and time.time() < deadline:
        messages = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages", [])
    token = json.loads(messages[0]["Body"])["token"]

    # The page reads the history, whose TaskScheduled may be saved a moment
    # after the request went out (the token itself was kept before).
    shown = f'<code class="task-token">{token}</code>'
    page = get(execution_page(served.url, ex))[2]
    while shown not in page and time.time() < deadline:
        time.sleep(0.1)
        page = get(execution_page(served.url, ex))[2]
    assert shown in page
    form = re.search(r'<form class="panel" data-action="SendTaskSuccess">(.*?)</form>', page, re.S).group(1)
    assert f'name="taskToken" value="{token}"' in form and 'name="output"' in form
    assert 'data-action="SendTaskFailure"' in page and 'data-action="StopExecution"' in page

    # What the page's script sends for "Send success": the form's fields.
    assert api(served.url, "SendTaskSuccess", {"taskToken": token, "output": '{"approved": true}'}) == {}
    d = wait_for(sfn, ex, timeout=20)
    assert d["status"] == "SUCCEEDED"
    assert json.loads(d["output"]) == {"order": 7, "decision": {"approved": True}}
    assert token not in get(execution_page(served.url, ex))[2].split("<section id=\"events\"")[0]


@needs_chromium
def test_the_machine_list_renders_in_chromium(served, tmp_path):
    sfn = client(served.url)
    names = [fresh(), fresh()]
    for n in names:
        create(sfn, PASS, n)
    dom = chromium(tmp_path, served.url + "/console/", "--dump-dom")
    for n in names:
        assert f">{n}</a>" in dom


@needs_chromium
def test_an_execution_page_updates_itself_while_it_runs(served, tmp_path):
    sfn = client(served.url)
    arn = create(sfn, WAIT)
    ex = sfn.start_execution(stateMachineArn=arn)["executionArn"]
    url = execution_page(served.url, ex)
    running = chromium(tmp_path, url, "--dump-dom")
    assert '<main data-status="RUNNING"' in running and "status-RUNNING" in running
    assert '<td class="state-name">Pause</td>' in running
    # The script polled and swapped in fresh sections, and redrew the graph.
    polls = int(re.search(r'data-polls="(\d+)"', running).group(1))
    assert polls >= 1
    assert re.search(r'<img id="graph" src="[^"]+&amp;t=\d+"', running)
    assert wait_for(sfn, ex, timeout=20)["status"] == "SUCCEEDED"
    done = chromium(tmp_path, url, "--dump-dom")
    assert '<main data-status="SUCCEEDED"' in done and "status-SUCCEEDED" in done
    for state in ("Pause", "After"):
        assert f'<td class="state-name">{state}</td>' in done
    assert "data-polls" not in done  # nothing to follow once it has stopped


@needs_chromium
def test_a_screenshot_of_an_execution_page(served, tmp_path):
    sfn = client(served.url)
    arn = create(sfn, ORDER, "order")
    ex = sfn.start_execution(stateMachineArn=arn, name="order-1042",
                             input='{"order": 1042, "approved": true}')["executionArn"]
    assert wait_for(sfn, ex)["status"] == "SUCCEEDED"
    os.makedirs(ARTIFACTS, exist_ok=True)
    png = os.path.join(ARTIFACTS, "console-execution.png")
    if os.path.exists(png):
        os.unlink(png)
    chromium(tmp_path, execution_page(served.url, ex), f"--screenshot={png}", "--window-size=1280,900")
    with open(png, "rb") as f:
        data = f.read()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 10_000


@pytest.fixture
def browser(tmp_path):
    b = Browser(tmp_path / "driven")
    yield b
    b.close()


def loaded(browser, url, selector):
    browser.goto(url)
    browser.until(f"document.readyState === 'complete' && !!document.querySelector({json.dumps(selector)})")


@needs_chromium
def test_the_start_form_starts_an_execution_and_opens_its_page(served, browser):
    sfn = client(served.url)
    arn = create(sfn, PASS)
    loaded(browser, served.url + "/console/state-machines/" + urllib.parse.quote(arn, safe=""),
           "form[data-action=StartExecution]")
    # Not JSON: said next to the form, nothing started.
    browser.eval("document.getElementById('input').value = '{oops';"
                 "document.querySelector('form[data-action=StartExecution] button').click()")
    alert = browser.until("document.querySelector('form .error[role=alert]')?.textContent")
    assert alert.startswith("Not JSON")
    assert sfn.list_executions(stateMachineArn=arn)["executions"] == []
    browser.eval("document.getElementById('name').value = 'from-the-form';"
                 "document.getElementById('input').value = '{\"n\": 5}';"
                 "document.querySelector('form[data-action=StartExecution] button').click()")
    ex = urllib.parse.unquote(browser.until(
        "location.pathname.startsWith('/console/executions/') && location.pathname").rsplit("/", 1)[1])
    assert ex.endswith(":from-the-form")
    assert json.loads(sfn.describe_execution(executionArn=ex)["input"]) == {"n": 5}
    browser.until("document.querySelector('main').dataset.status === 'SUCCEEDED'")


@needs_chromium
def test_the_page_follows_a_run_live_and_its_stop_button_stops_one(served, browser):
    sfn = client(served.url)
    arn = create(sfn, WAIT)
    first = sfn.start_execution(stateMachineArn=arn)["executionArn"]
    loaded(browser, execution_page(served.url, first), "main[data-status=RUNNING]")
    browser.eval("window.sameDocument = true")
    # No reload: the script swaps the sections in as the run goes on.
    browser.until("document.getElementById('status').textContent === 'SUCCEEDED'", timeout=20)
    assert browser.eval("window.sameDocument === true")
    assert browser.eval("[...document.querySelectorAll('td.state-name')].map(td => td.textContent)") == [
        "Pause", "After"]

    second = sfn.start_execution(stateMachineArn=arn)["executionArn"]
    loaded(browser, execution_page(served.url, second), "form[data-action=StopExecution]")
    browser.eval("document.querySelector('form[data-action=StopExecution] button').click()")
    browser.until("document.getElementById('status')?.textContent === 'ABORTED'")
    assert sfn.describe_execution(executionArn=second)["status"] == "ABORTED"
    assert browser.eval("!!document.querySelector('form[data-action=RedriveExecution]')")


@needs_chromium
def test_send_success_answers_a_task_waiting_for_its_token(served, moto, browser):
    sqs = boto3.client("sqs", endpoint_url=moto, region_name="us-east-1",
                       aws_access_key_id="test", aws_secret_access_key="test")
    url = sqs.create_queue(QueueName=fresh("console-approvals"))["QueueUrl"]
    sfn = client(served.url)
    arn = create(sfn, {"StartAt": "Approve", "States": {
        "Approve": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                    "Parameters": {"QueueUrl": url, "MessageBody": {"token.$": "$$.Task.Token"}},
                    "ResultPath": "$.decision", "End": True}}})
    ex = sfn.start_execution(stateMachineArn=arn, input='{"order": 9}')["executionArn"]
    # The page shows the token once the task is scheduled (the live refresh brings it in).
    loaded(browser, execution_page(served.url, ex), "main[data-status=RUNNING]")
    token = browser.until("document.querySelector('code.task-token')?.textContent")
    assert len(token) == 48
    browser.eval("document.querySelector('form[data-action=SendTaskSuccess] textarea').value ="
                 " '{\"approved\": true}';"
                 "document.querySelector('form[data-action=SendTaskSuccess] button').click()")
    browser.until("document.getElementById('status')?.textContent === 'SUCCEEDED'")
    d = sfn.describe_execution(executionArn=ex)
    assert json.loads(d["output"]) == {"order": 9, "decision": {"approved": True}}
