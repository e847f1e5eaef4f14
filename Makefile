# One command per habit. `make help` lists them.
.PHONY: help example test lint conformance bench fuzz ci check-pure deploy-check

CARGO ?= cargo

help:
	@echo "make example      build and run examples/order.json locally"
	@echo "make test         every test: unit, semantics, conformance (in memory, through the stepper, on DynamoDB/SQS in moto, with chaos), JSONata differential, API with real clients"
	@echo "make lint         cargo fmt --check and clippy -D warnings"
	@echo "make conformance  the AWS-recorded cases, with a per-theme table"
	@echo "make deploy-check sam validate --lint, cfn-lint, cargo lambda build (arm64 zips), sam build"
	@echo "make bench        engine transitions/s, JSONata vs jsonata-js, the API vs moto, serverless cost per transition"
	@echo "make fuzz         the long fuzz run: every target for 10 minutes (FUZZ_SECONDS)"

example:
	$(CARGO) build --release -p stepwise
	./target/release/stepwise run examples/order.json --input @examples/order-input.json --fast-forward

test:
	./scripts/setup-test-deps
	# One invocation: cargo resolves features per selection of packages, so
	# a second one over other packages built every crate again (2.5 min).
	# It builds target/debug/stepwise too, which the API tests run.
	$(CARGO) test --workspace
	# Two workers (pytest-xdist): each test starts servers of its own and
	# mostly waits on them, so two at once take half the time (7.5 → 3.5 min).
	cd tests/api && python3 -m pytest -q -n 2
	$(MAKE) check-pure

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

conformance:
	$(CARGO) test -p stepwise --test conformance

bench:
	$(CARGO) build --release -p stepwise -p stepwise-bench -p stepwise-stepper -p stepwise-api-function
	./target/release/stepwise-bench

# What `sam build && sam deploy` needs, checked without an AWS account.
deploy-check:
	SAM_CLI_TELEMETRY=0 sam validate --lint -t template.yaml
	cfn-lint template.yaml
	cargo lambda build --release --arm64 --output-format zip -p stepwise-stepper -p stepwise-api-function
	SAM_CLI_TELEMETRY=0 sam build --beta-features

# stepwise-asl does no I/O: no tokio or aws crate may enter its dependency
# tree, and it builds for wasm32 where that target is installed.
check-pure:
	@if $(CARGO) tree -p stepwise-asl -e normal --prefix none | grep -E '^(tokio|aws-|hyper|reqwest) ' ; then \
		echo "stepwise-asl must not depend on I/O crates"; exit 1; fi
	@if rustup target list --installed 2>/dev/null | grep -q wasm32-unknown-unknown; then \
		$(CARGO) build -p stepwise-asl --target wasm32-unknown-unknown; \
	else echo "wasm32-unknown-unknown not installed: skipping the wasm build of stepwise-asl"; fi

FUZZ_SECONDS ?= 600
fuzz:
	$(CARGO) build --release -p stepwise-fuzz
	./target/release/stepwise-fuzz --seconds $(FUZZ_SECONDS)

ci: lint test
	$(CARGO) build --release -p stepwise -p stepwise-bench -p stepwise-stepper -p stepwise-api-function -p stepwise-fuzz
	./target/release/stepwise-bench --quick
	./target/release/stepwise-fuzz --seconds 10
