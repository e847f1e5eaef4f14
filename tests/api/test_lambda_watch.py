"""The stepper function under `cargo lambda watch`, invoked with the sample
event from events/ through `cargo lambda invoke`, against moto server."""
import json
import os
import subprocess
import time

from conftest import BINARY, ROOT, free_port


def test_the_stepper_answers_under_cargo_lambda_watch(moto):
    env = dict(os.environ, AWS_ENDPOINT_URL=moto, AWS_ACCESS_KEY_ID="test",
               AWS_SECRET_ACCESS_KEY="test", AWS_REGION="us-east-1")
    # The table and the queue, created as `stepwise run --backend aws` does.
    subprocess.run([BINARY, "run", os.path.join(ROOT, "examples", "ten-states.json"),
                    "--backend", "aws", "--create-resources", "--table", "watch", "--queue", "watch"],
                   env=env, check=True, capture_output=True)
    port = free_port()
    function_env = ",".join([
        "STEPWISE_TABLE=watch", f"STEPWISE_QUEUE_URL={moto}/123456789012/watch",
        f"AWS_ENDPOINT_URL={moto}", "AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test",
        "AWS_REGION=us-east-1"])
    watch = subprocess.Popen(
        ["cargo", "lambda", "watch", "--invoke-port", str(port), "--env-var", function_env],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.time() + 60
        out = None
        while time.time() < deadline:
            # The first invoke waits while cargo lambda builds the function.
            out = subprocess.run(
                ["cargo", "lambda", "invoke", "stepper", "--invoke-port", str(port),
                 "--data-file", os.path.join(ROOT, "events", "stepper-sqs.json")],
                cwd=ROOT, capture_output=True, text=True, timeout=600)
            if out.returncode == 0:
                break
            time.sleep(1)
        assert out is not None and out.returncode == 0, out and out.stderr
        response = json.loads(out.stdout)
        # The sample's step message is for an execution this table lacks
        # (dropped); its malformed record is handed back for redelivery.
        assert response == {"batchItemFailures": [{"itemIdentifier": "2e1424d4-f796-459a-8184-9c92662be6da"}]}
    finally:
        os.killpg(watch.pid, 9)
        watch.wait()
