"""`eks:call` and `eks:runJob(.sync)` against a stand-in Kubernetes API
server on 127.0.0.1: TLS that trusts the cluster's CertificateAuthority,
the IAM bearer token, the result shapes, `EKS.<status>` errors, a job
followed to its end with its logs, and a job deleted when its task times
out."""
import base64
import datetime
import http.server
import ipaddress
import json
import ssl
import threading
import urllib.parse

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from conftest import run_machine

AWS = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_REGION": "us-east-1"}


def certificates(tmp_path):
    """A certificate authority, and a server certificate for 127.0.0.1 it
    signed: (the authority's PEM, the server's cert and key files)."""
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kubernetes")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(1)
          .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False, data_encipherment=False,
                                       key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kube-apiserver")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(2)
            .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(ca_key, hashes.SHA256()))
    cert_file, key_file = tmp_path / "server.pem", tmp_path / "server.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return ca.public_bytes(serialization.Encoding.PEM), cert_file, key_file


class Kubernetes(http.server.BaseHTTPRequestHandler):
    """Jobs that complete on their second read (those named `fail-…` fail,
    `slow-…` never end), one pod each whose log is JSON."""
    requests = []
    reads = {}

    def log_message(self, *args):
        pass

    def answer(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def handle_one(self):
        url = urllib.parse.urlparse(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length)) if length else None
        query = urllib.parse.parse_qs(url.query)
        Kubernetes.requests.append({"method": self.command, "path": url.path, "query": query,
                                    "auth": self.headers.get("Authorization", ""), "body": body})
        parts = url.path.strip("/").split("/")
        if url.path == "/api/v1/namespaces/default/pods" and self.command == "GET":
            return self.answer(200, {"kind": "PodList", "items": []})
        if url.path == "/forbidden":
            return self.answer(403, {"kind": "Status", "status": "Failure", "reason": "Forbidden", "code": 403})
        if parts[:4] == ["apis", "batch", "v1", "namespaces"] and parts[5:6] == ["jobs"]:
            if self.command == "POST" and len(parts) == 6:
                return self.answer(201, {**body, "status": {}})
            name = parts[6]
            if self.command == "DELETE":
                return self.answer(200, {"kind": "Status", "status": "Success"})
            Kubernetes.reads[name] = Kubernetes.reads.get(name, 0) + 1
            conditions = []
            if Kubernetes.reads[name] >= 2 and not name.startswith("slow-"):
                kind = "Failed" if name.startswith("fail-") else "Complete"
                conditions = [{"type": kind, "status": "True"}]
            return self.answer(200, {"metadata": {"name": name}, "status": {"conditions": conditions}})
        if parts[-1] == "pods":
            job = query["labelSelector"][0].split("=", 1)[1]
            return self.answer(200, {"items": [{"metadata": {"name": f"{job}-x1"},
                                                "spec": {"containers": [{"name": "main"}]}}]})
        if parts[-1] == "log":
            data = json.dumps({"pi": 3.14, "container": query["container"][0]}).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            return self.wfile.write(data)
        return self.answer(404, {"kind": "Status", "code": 404})

    do_GET = do_POST = do_DELETE = do_PUT = do_PATCH = handle_one


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    authority, cert_file, key_file = certificates(tmp_path_factory.mktemp("tls"))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Kubernetes)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield {"ClusterName": "demo", "Endpoint": f"https://127.0.0.1:{server.server_address[1]}",
           "CertificateAuthority": base64.b64encode(authority).decode()}
    server.shutdown()


def run(tmp_path, states, start):
    path = tmp_path / "m.json"
    path.write_text(json.dumps({"StartAt": start, "States": states}))
    return run_machine(path, env=dict(AWS, AWS_ENDPOINT_URL="http://127.0.0.1:9"))


def test_eks_call_and_run_job(cluster, tmp_path):
    eks = "arn:aws:states:::eks:"
    job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "pi-1"},
           "spec": {"template": {"spec": {"containers": [{"name": "main", "image": "perl"}]}}}}
    states = {
        "Pods": {"Type": "Task", "Resource": eks + "call", "ResultPath": "$.pods", "Next": "Forbidden",
                 "Parameters": {**cluster, "Method": "GET", "Path": "/api/v1/namespaces/default/pods",
                                "QueryParameters": {"labelSelector": ["app=a b"]}}},
        "Forbidden": {"Type": "Task", "Resource": eks + "call", "Next": "Start",
                      "Parameters": {**cluster, "Method": "GET", "Path": "/forbidden"},
                      "Catch": [{"ErrorEquals": ["EKS.403"], "ResultPath": "$.forbidden", "Next": "Start"}]},
        "Start": {"Type": "Task", "Resource": eks + "runJob", "ResultPath": "$.started", "Next": "Run",
                  "Parameters": {**cluster, "Namespace": "jobs", "Job": {**job, "metadata": {"name": "quick-1"}}}},
        "Run": {"Type": "Task", "Resource": eks + "runJob.sync", "ResultPath": "$.run", "Next": "Fail",
                "Parameters": {**cluster, "Namespace": "jobs", "Job": job,
                               "LogOptions": {"RetrieveLogs": True, "LogParameters": {"tailLines": ["6"]}}}},
        "Fail": {"Type": "Task", "Resource": eks + "runJob.sync", "End": True,
                 "Parameters": {**cluster, "Namespace": "jobs", "Job": {**job, "metadata": {"name": "fail-1"}}},
                 "Catch": [{"ErrorEquals": ["States.TaskFailed"], "ResultPath": "$.failed", "Next": "Done"}]},
        "Done": {"Type": "Succeed"}}
    result = run(tmp_path, states, "Pods")
    assert result["status"] == "SUCCEEDED", result
    o = result["output"]
    assert o["pods"] == {"ResponseBody": {"kind": "PodList", "items": []}, "StatusCode": 200, "StatusText": "OK"}
    assert o["forbidden"]["Error"] == "EKS.403"
    assert json.loads(o["forbidden"]["Cause"])["StatusCode"] == 403
    assert o["started"]["metadata"]["name"] == "quick-1" and o["started"]["status"] == {}
    assert o["run"]["status"]["conditions"] == [{"type": "Complete", "status": "True"}]
    assert o["run"]["logs"] == {"pods": {"pi-1-x1": {"containers": {"main": {"log": {"pi": 3.14, "container": "main"}}}}}}
    assert json.loads(o["failed"]["Cause"])["status"]["conditions"][0]["type"] == "Failed"

    seen = Kubernetes.requests
    listing = next(r for r in seen if r["path"] == "/api/v1/namespaces/default/pods")
    assert listing["query"] == {"labelSelector": ["app=a b"]}
    log = next(r for r in seen if r["path"].endswith("/log"))
    assert log["query"] == {"tailLines": ["6"], "container": ["main"]}
    created = next(r for r in seen if r["method"] == "POST")
    assert created["path"] == "/apis/batch/v1/namespaces/jobs/jobs" and created["body"]["kind"] == "Job"
    # The IAM token: a presigned STS GetCallerIdentity naming the cluster.
    token = listing["auth"].removeprefix("Bearer ")
    assert token.startswith("k8s-aws-v1.")
    encoded = token.removeprefix("k8s-aws-v1.")
    url = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
    q = urllib.parse.parse_qs(urllib.parse.urlparse(url).query)
    assert q["Action"] == ["GetCallerIdentity"] and q["Version"] == ["2011-06-15"]
    assert q["X-Amz-SignedHeaders"] == ["host;x-k8s-aws-id"] and q["X-Amz-Expires"] == ["60"]
    assert "/sts/aws4_request" in q["X-Amz-Credential"][0]


def test_a_run_job_that_times_out_is_deleted(cluster, tmp_path):
    job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "slow-1"}, "spec": {}}
    states = {"Run": {"Type": "Task", "Resource": "arn:aws:states:::eks:runJob.sync", "End": True,
                      "TimeoutSeconds": 1, "Parameters": {**cluster, "Job": job}}}
    result = run(tmp_path, states, "Run")
    assert result["status"] == "FAILED" and result["error"] == "States.Timeout", result
    deleted = [r for r in Kubernetes.requests if r["method"] == "DELETE"]
    assert [(r["path"], r["query"]) for r in deleted] == [
        ("/apis/batch/v1/namespaces/default/jobs/slow-1", {"propagationPolicy": ["Foreground"]})]


def test_a_cluster_authority_that_is_not_a_certificate_fails_the_task(cluster, tmp_path):
    states = {"Call": {"Type": "Task", "Resource": "arn:aws:states:::eks:call", "End": True,
                       "Parameters": {**cluster, "CertificateAuthority": "bm90IGEgY2VydA==",
                                      "Method": "GET", "Path": "/"}}}
    result = run(tmp_path, states, "Call")
    assert result["status"] == "FAILED" and "CertificateAuthority" in result["cause"], result
