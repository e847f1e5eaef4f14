"""`arn:aws:states:::apigateway:invoke` against a local HTTP server standing
in for an API Gateway stage: the URL, headers, query and body it sends, the
result's shape, SigV4 for IAM_ROLE, and ApiGateway.<status> errors."""
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from conftest import run_machine

SEEN = []


class Stage(BaseHTTPRequestHandler):
    def _answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        SEEN.append({"method": self.command, "path": self.path, "body": body,
                     "headers": {k.lower(): v for k, v in self.headers.items()}})
        if self.path.startswith("/prod/missing"):
            self.send_response(404)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"message":"Not Found"}')
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("X-Seen", "1")
        self.end_headers()
        self.wfile.write(json.dumps({"bills": [1, 2]}).encode())

    do_GET = do_POST = _answer

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def stage():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Stage)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_invoke_sends_the_request_and_shapes_the_answer(stage, tmp_path):
    SEEN.clear()
    task = "arn:aws:states:::apigateway:invoke"
    definition = {"StartAt": "Call", "States": {
        "Call": {"Type": "Task", "Resource": task, "ResultPath": "$.called", "Next": "Missing",
                 "Parameters": {"ApiEndpoint": stage, "Method": "POST", "Stage": "prod", "Path": "bills/add",
                                "Headers": {"X-Team": ["a", "b"]}, "QueryParameters": {"id": ["1 2"]},
                                "RequestBody": {"billId.$": "$.bill"}, "AuthType": "IAM_ROLE"}},
        "Missing": {"Type": "Task", "Resource": task, "End": True,
                    "Parameters": {"ApiEndpoint": stage, "Method": "GET", "Stage": "prod", "Path": "missing"},
                    "Catch": [{"ErrorEquals": ["ApiGateway.404"], "ResultPath": "$.missing", "Next": "Done"}]},
        "Done": {"Type": "Succeed"}}}
    path = tmp_path / "m.json"
    path.write_text(json.dumps(definition))
    env = dict(AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test", AWS_REGION="us-east-1")
    result = run_machine(path, "--input", '{"bill": "b-1"}', env=env)
    assert result["status"] == "SUCCEEDED", result
    called = result["output"]["called"]
    assert called["StatusCode"] == 200 and called["StatusText"] == "OK"
    assert called["ResponseBody"] == {"bills": [1, 2]}
    assert {k.lower(): v for k, v in called["Headers"].items()}["x-seen"] == ["1"]
    sent = SEEN[0]
    assert (sent["method"], sent["path"]) == ("POST", "/prod/bills/add?id=1%202")
    assert json.loads(sent["body"]) == {"billId": "b-1"}
    assert sent["headers"]["x-team"] == "a,b"
    assert sent["headers"]["authorization"].startswith("AWS4-HMAC-SHA256 Credential=test/")
    assert "/execute-api/aws4_request" in sent["headers"]["authorization"]
    assert "authorization" not in SEEN[1]["headers"]
    missing = result["output"]["missing"]
    assert missing["Error"] == "ApiGateway.404" and json.loads(missing["Cause"]) == {"message": "Not Found"}
