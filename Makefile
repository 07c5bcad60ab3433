# Thin wrappers: each target is one command you could type yourself.
.PHONY: synth install test check lint fmt clippy bench bench-synth bench-migrate clean functions

# The main job: synthesize every sample county into cdk.out/.
synth:
	cargo run --release --quiet -- synth

# The acme-infra binary on PATH (~/.cargo/bin), as README's examples call it.
install:
	cargo install --path . --locked

# Everything CI runs: formatting, clippy, and the whole test suite against a
# moto server that the script starts (installs moto and cfn-lint into .venv).
test:
	scripts/test.sh

# Lambda bundles (cargo-lambda, zig): target/lambda/<arch>/<function>/bootstrap.zip.
# ARCH=x86_64 for x86_64; ALLOW_ARCH_FALLBACK=1 to fall back if arm64 can't be built.
functions:
	scripts/build-functions.sh

fmt:
	cargo fmt --all

clippy:
	cargo clippy --workspace --all-targets -- -D warnings

# Synth speed and memory for the sample counties plus 50 generated ones.
bench-synth:
	scripts/bench-synth.sh

# The backfill against moto: orders/s beside moto's BatchWriteItem ceiling,
# the --max-wcu hold, peak memory at 10k and 100k orders (ORDERS=N to change).
bench-migrate:
	scripts/bench-migrate.sh --orders $(or $(ORDERS),100000)

bench: bench-synth
	cargo bench -p order-domain

clean:
	cargo clean
	rm -rf cdk.out .venv
