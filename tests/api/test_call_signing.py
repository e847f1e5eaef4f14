"""`stepwise call` signs with SigV4 as AWS does: a local server captures the
request and botocore recomputes the signature from it."""
import http.server
import json
import os
import subprocess
import threading

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from conftest import BINARY, Server, client


class Capture(http.server.BaseHTTPRequestHandler):
    seen = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Capture.seen.append((self.path, {k.lower(): v for k, v in self.headers.items()}, body))
        reply = b'{"stateMachines": []}'
        self.send_response(200)
        self.send_header("Content-Type", "application/x-amz-json-1.0")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, *args):
        pass


def test_the_signature_is_the_one_botocore_computes(tmp_path):
    server = http.server.HTTPServer(("127.0.0.1", 0), Capture)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}/v1/"
    creds = tmp_path / "credentials"
    creds.write_text("[ops]\naws_access_key_id = AKIDEXAMPLE\naws_secret_access_key = wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY\n")
    env = dict(os.environ, AWS_SHARED_CREDENTIALS_FILE=str(creds), AWS_REGION="eu-west-1")
    out = subprocess.run([BINARY, "call", "ListStateMachines", "--endpoint", url, "--profile", "ops",
                          "--body", '{"maxResults": 5}'], env=env, capture_output=True, text=True)
    server.shutdown()
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == {"stateMachines": []}
    path, headers, body = Capture.seen[-1]
    assert headers["x-amz-target"] == "AWSStepFunctions.ListStateMachines"
    auth = headers["authorization"]
    assert auth.startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
    assert "/eu-west-1/execute-api/aws4_request" in auth
    # botocore signs the same request at the same instant: the same signature.
    request = AWSRequest(method="POST", url=url, data=body, headers={
        "Content-Type": headers["content-type"], "X-Amz-Target": headers["x-amz-target"],
        "X-Amz-Date": headers["x-amz-date"]})
    signer = SigV4Auth(Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"),
                       "execute-api", "eu-west-1")
    request.context["timestamp"] = headers["x-amz-date"]
    signer._modify_request_before_signing(request)
    canonical = signer.canonical_request(request)
    expected = signer.signature(signer.string_to_sign(request, canonical), request)
    assert auth.split("Signature=")[1] == expected


def test_call_reaches_a_local_server_unsigned_service(tmp_path):
    s = Server(["--in-memory"]).start()
    try:
        env = dict(os.environ, AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test", AWS_REGION="us-east-1")
        body = json.dumps({"name": "called", "roleArn": "arn:aws:iam::123456789012:role/r",
                           "definition": json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})})
        out = subprocess.run([BINARY, "call", "CreateStateMachine", "--endpoint", s.url, "--service", "states",
                              "--body", body], env=env, capture_output=True, text=True)
        assert out.returncode == 0, out.stdout + out.stderr
        arn = json.loads(out.stdout)["stateMachineArn"]
        assert client(s.url).describe_state_machine(stateMachineArn=arn)["name"] == "called"
        bad = subprocess.run([BINARY, "call", "DescribeStateMachine", "--endpoint", s.url,
                              "--body", '{"stateMachineArn": "nope"}'], env=env, capture_output=True, text=True)
        assert bad.returncode == 1
        assert json.loads(bad.stdout)["__type"] == "InvalidArn"
    finally:
        s.stop()
