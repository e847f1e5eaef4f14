#!/usr/bin/env bash
# A SAM app's state machine, straight from template.yaml: DefinitionUri,
# DefinitionSubstitutions (!GetAtt of the function's ARN, !Ref of the
# table) and parameters resolved locally; the DynamoDB putItem mocked
# (mocks.json, AWS's mock configuration format), so no AWS is needed.
#
#   bash examples/sam-app/run.sh               # Stage=dev: table orders-dev
#   bash examples/sam-app/run.sh Stage=prod    # any --parameter-overrides
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
stepwise="${STEPWISE_BIN:-$root/target/release/stepwise}"
[ -x "$stepwise" ] || (cd "$root" && cargo build --release -q -p stepwise)
"$stepwise" run --template "$here/template.yaml" --state-machine OrdersStateMachine \
  ${1:+--parameter-overrides "$@"} --input "@$here/input.json" \
  --mock-config "$here/mocks.json" --test-case Saved --states-entered
