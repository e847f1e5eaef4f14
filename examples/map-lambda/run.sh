#!/usr/bin/env bash
# A Map over a basket calling a Lambda function per item, run locally: the
# function is served on the Lambda Invoke API (function.py here; a Rust
# function under `cargo lambda watch` works the same, at port 9000) and
# `stepwise run --lambda-endpoint` sends each Task there.
#
#   bash examples/map-lambda/run.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
stepwise="${STEPWISE_BIN:-$root/target/release/stepwise}"
[ -x "$stepwise" ] || (cd "$root" && cargo build --release -q -p stepwise)
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
python3 "$here/function.py" "$port" >/dev/null &
function_pid=$!
trap 'kill "$function_pid" 2>/dev/null || true' EXIT
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
"$stepwise" run "$here/definition.json" --input "@$here/input.json" \
  --lambda-endpoint "http://127.0.0.1:$port"
