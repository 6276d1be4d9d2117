# wasp: the two commands are `make run` and `make test`; see README.md.
CARGO ?= cargo
WASM_TARGET := wasm32-wasip1
# Guest code has its own target dir: a nested cargo must not share the outer lock.
WASM_DIR := target/wasm
# What `wasp build` builds plugins with (and tests/build.rs, so builds agree).
SIMD := --config 'target.wasm32-wasip1.rustflags=["-C", "target-feature=+simd128"]'

# Guest sources are outside the root workspace; cargo fmt --all would follow their
# path dependencies back into it, so rustfmt gets the files directly.
GUEST_SOURCES = $(shell find plugins tests/fixtures -name '*.rs' -not -path '*/target/*')

.PHONY: run run-nats test bench bench-peers fmt lint plugins python-plugins test-tools wasm-target doc

## Install the wasm target if it is missing (CI starts from a fresh toolchain).
wasm-target:
	@rustup target list --installed 2>/dev/null | grep -qx '$(WASM_TARGET)' \
	  || rustup target add $(WASM_TARGET)

## Build the example plugins (wasm32-wasip1, release).
plugins: wasm-target
	$(CARGO) build --release --target $(WASM_TARGET) --manifest-path plugins/Cargo.toml --target-dir $(WASM_DIR) $(SIMD)

## The demo: the bundled pipeline over the bundled events.
run: plugins
	$(CARGO) run -q -p wasp-cli -- run -m demo/wasp.toml --input demo/events.jsonl

## The scaled-out demo: a nats-server of its own, the demo events published into
## JetStream, three `wasp run` workers sharing them, the combined summary.
run-nats: plugins test-tools
	$(CARGO) build -q -p wasp-cli
	scripts/run-nats.sh

## The Python example plugins (componentize-py, installed into target/py-venv on
## first use; skipped with the reason printed if it cannot be installed).
python-plugins:
	scripts/python-plugins.sh

## System tools the tests use (ssh-keygen), installed when missing.
test-tools:
	scripts/test-tools.sh

## Build everything (plugins and fixtures via tests/build.rs) and run every test.
test: wasm-target python-plugins test-tools
	$(CARGO) test --workspace

## Benchmarks: criterion (per call, loading) and the custom harnesses (pipeline,
## kv, scale; they run the release `wasp`), then the README's table regenerated.
bench: plugins
	$(CARGO) build --release -p wasp-cli
	$(CARGO) bench -p wasp-benches
	python3 scripts/bench-table.py

## The same logic through Extism, a child process, raw wasmtime, native and wasp
## (its own crate, benches/peers; not part of `make test`), then the README table.
bench-peers: plugins
	benches/peers/run.sh
	python3 scripts/bench-table.py

fmt:
	$(CARGO) fmt --all
	rustfmt --edition 2024 $(GUEST_SOURCES)

lint: wasm-target
	$(CARGO) fmt --all -- --check
	rustfmt --edition 2024 --check $(GUEST_SOURCES)
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	# The host's modules form layers without a cycle (README, "Architecture").
	python3 tools/module-cycles host/src

doc:
	$(CARGO) doc --workspace --no-deps
