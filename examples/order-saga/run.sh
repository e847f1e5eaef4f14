#!/usr/bin/env bash
# The order saga with its Lambda functions mocked (mocks.json, AWS's mock
# configuration format): the happy path, or a declined payment that undoes
# the reservation and fails the order.
#
#   bash examples/order-saga/run.sh                  # HappyPath
#   bash examples/order-saga/run.sh PaymentDeclined
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
stepwise="${STEPWISE_BIN:-$root/target/release/stepwise}"
[ -x "$stepwise" ] || (cd "$root" && cargo build --release -q -p stepwise)
"$stepwise" run "$here/definition.json" --name order-saga --input "@$here/input.json" \
  --mock-config "$here/mocks.json" --test-case "${1:-HappyPath}" --states-entered
