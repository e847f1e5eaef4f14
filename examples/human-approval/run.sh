#!/usr/bin/env bash
# Human approval end to end, on this machine: moto server stands in for SQS,
# `stepwise serve` runs the workflow, and an "approver" reads the request
# from the queue and answers with the AWS CLI (send-task-success).
#
#   bash examples/human-approval/run.sh          # approve
#   bash examples/human-approval/run.sh reject   # reject (send-task-failure)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
stepwise="${STEPWISE_BIN:-$root/target/release/stepwise}"
[ -x "$stepwise" ] || (cd "$root" && cargo build --release -q -p stepwise)
answer="${1:-approve}"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
moto_port="$(free_port)"; api_port="$(free_port)"
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
export AWS_ENDPOINT_URL="http://127.0.0.1:$moto_port"
api="http://127.0.0.1:$api_port"
logs="$(mktemp -d)"
bash "$root/infra/local-aws" "$moto_port" >"$logs/moto.log" 2>&1 &
moto_pid=$!
trap 'kill "$moto_pid" "${serve_pid:-}" 2>/dev/null || true' EXIT
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$moto_port") 2>/dev/null && break; sleep 0.1; done
"$stepwise" serve --in-memory --addr "127.0.0.1:$api_port" 2>"$logs/serve.log" &
serve_pid=$!
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$api_port") 2>/dev/null && break; sleep 0.1; done

queue="$(aws sqs create-queue --endpoint-url "$AWS_ENDPOINT_URL" --queue-name approvals --query QueueUrl --output text)"
machine="$(aws stepfunctions create-state-machine --endpoint-url "$api" --name approval \
  --role-arn arn:aws:iam::123456789012:role/example \
  --definition "file://$here/definition.json" --query stateMachineArn --output text)"
input="{\"approvalQueueUrl\": \"$queue\", \"order\": {\"id\": \"A-1001\", \"total\": 240}}"
execution="$(aws stepfunctions start-execution --endpoint-url "$api" --state-machine-arn "$machine" \
  --input "$input" --query executionArn --output text)"
echo "started $execution"

# The approver: take the request off the queue and answer it.
body=""
for _ in $(seq 20); do
  body="$(aws sqs receive-message --endpoint-url "$AWS_ENDPOINT_URL" --queue-url "$queue" --wait-time-seconds 1 --query 'Messages[0].Body' --output text)"
  [ "$body" != "None" ] && break
done
echo "approver got: $body"
token="$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["taskToken"])' "$body")"
if [ "$answer" = reject ]; then
  aws stepfunctions send-task-failure --endpoint-url "$api" --task-token "$token" \
    --error Rejected --cause "over budget"
else
  aws stepfunctions send-task-success --endpoint-url "$api" --task-token "$token" \
    --task-output '{"approver": "dana"}'
fi

for _ in $(seq 50); do
  status="$(aws stepfunctions describe-execution --endpoint-url "$api" --execution-arn "$execution" --query status --output text)"
  [ "$status" != RUNNING ] && break
  sleep 0.1
done
aws stepfunctions describe-execution --endpoint-url "$api" --execution-arn "$execution" \
  --query '{status: status, output: output}' --output json
