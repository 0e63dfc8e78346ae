# The README's two commands: `make serve` and `make test`. Everything they
# need is installed by scripts/setup.sh, idempotently.
SHELL := /bin/bash
export PATH := $(CURDIR)/node_modules/.bin:$(HOME)/.cargo/bin:$(PATH)
# Builds live outside the clone so CI runs and fresh clones reuse them; a cold
# run works the same, only slower.
export CARGO_TARGET_DIR ?= $(HOME)/.cache/pretext/target
# Static hosts under a sub-path (GitHub Pages project sites): make dist PUBLIC_URL=/pretext/
PUBLIC_URL ?= /
# Native wgpu tests (Vulkan via lavapipe) want a private runtime dir.
export XDG_RUNTIME_DIR ?= /tmp/pretext-runtime-$(shell id -u)

.PHONY: setup build serve dist test lint unit wasm e2e clean train-igpt train-bert golden bench bench-setup

setup:
	@bash scripts/setup.sh

build: setup
	trunk build

serve: setup
	trunk serve

# A deployable static folder: optimised wasm, the assets, and 404.html = index.html
# so deep links (/bert) work on hosts without a rewrite rule.
dist: setup
	sed 's/data-wasm-opt="0"/data-wasm-opt="z"/' index.html > .dist-index.html
	trunk build .dist-index.html --dist dist --public-url $(PUBLIC_URL)
	@if [ -f dist/.dist-index.html ]; then mv dist/.dist-index.html dist/index.html; fi
	cp dist/index.html dist/404.html
	touch dist/.nojekyll
	rm -f .dist-index.html
	@ls -l dist/*.wasm && gzip -9 -c dist/*.wasm | wc -c | xargs printf 'wasm gzip bytes: %s\n'

lint: setup
	cargo fmt --check
	cargo clippy --all-targets -- -D warnings
	cargo clippy --target wasm32-unknown-unknown -- -D warnings

unit: setup
	@mkdir -p -m 700 "$$XDG_RUNTIME_DIR"
	cargo test

wasm: setup
	trunk build

e2e: wasm
	node --test --test-concurrency=1 tests/e2e/

# Make runs each prerequisite once, in this order (setup only once).
test: lint unit e2e

# Retrains the iGPT demo's two models (weights/igpt-*.safetensors, committed;
# their logs are weights/igpt-*.log). Resumes from weights/*.ckpt.safetensors
# when present. Hours on 2 CPU cores; see weights/README.md for the exact runs.
IGPT_STEPS ?= 600
train-igpt: setup
	cargo run --release --example train_igpt -- --objective next --steps $(IGPT_STEPS)
	cargo run --release --example train_igpt -- --objective masked --steps $(IGPT_STEPS)

# Trains the BERT demo's fill-mask model (MLM + NSP on the all-MiniLM-L6-v2
# encoder; weights/bert-mlm.safetensors and .log) in two phases, as the shipped
# file was: 1500 steps, then resumed to 4000 with a fresh cosine schedule
# (Adam's moments restart). Resumes from weights/bert-mlm.ckpt.safetensors
# when present. See weights/README.md.
BERT_STEPS ?= 4000
train-bert: setup
	cargo run --release --example train_bert -- --steps 1500
	cargo run --release --example train_bert -- --steps $(BERT_STEPS)

# `make bench`: every demo's speed in headless Chromium (CPU fallback and
# WebGPU) and natively (burn's ndarray and wgpu backends), beside
# transformers.js (ONNX Runtime Web, wasm and webgpu) and PyTorch on the same
# weights and inputs; writes BENCHMARKS.md and BENCHMARKS.json (committed).
# Measures the release build (make dist). bench-setup installs the peers:
# PyTorch into $(PYREF) (a 3 GB download the first time) and the fp32 ONNX
# export of all-MiniLM-L6-v2 for transformers.js. On 2 cores the release
# build takes ~15 minutes and WebGPU on the SwiftShader adapter the longest. `make test` runs the
# harness once in --smoke mode (tests/e2e/bench.test.mjs).
PYREF ?= $(HOME)/.cache/pretext/pyref
bench-setup: setup
	test -x $(PYREF)/bin/python || python3 -m venv $(PYREF)
	$(PYREF)/bin/pip install -q -r scripts/bench/requirements.txt -r scripts/bench/onnx-requirements.txt
	$(PYREF)/bin/python scripts/bench/export_onnx.py

bench: bench-setup dist
	node scripts/bench/run.mjs

# Regenerates the BERT golden fixtures (tests/golden/bert, committed) with the
# reference implementation, Hugging Face transformers on PyTorch, pinned in
# scripts/golden-requirements.txt. Not part of `make test`: PyTorch is a 3 GB
# download, and the fixtures do not change unless the script does.
golden: setup
	test -x $(PYREF)/bin/python || python3 -m venv $(PYREF)
	$(PYREF)/bin/pip install -q -r scripts/golden-requirements.txt
	$(PYREF)/bin/python scripts/bert_golden.py

clean:
	rm -rf dist .dist-index.html
