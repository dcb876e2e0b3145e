#!/usr/bin/env bash
# Trainer speed and memory against PyTorch + transformers, in one run, alternating processes.
#
#   bash finetune/bench/run.sh [tiny|smollm2-135m] [ROUNDS]
#
# Installs torch and transformers into .venv/ when they are missing (the same environment that
# `scripts/setup-models.sh --reference` prepares), builds the release binary and runs
# `finetune bench`, which prints s/step, tokens/s, peak RSS and the ratios, ending with
# `ratio tokens/s project/pytorch: X.XX`.
set -euo pipefail
cd "$(dirname "$0")/../.."
shape="${1:-tiny}"
rounds="${2:-3}"
steps=5
[ "$shape" = smollm2-135m ] && steps=3

if ! .venv/bin/python -c 'import torch, transformers' 2>/dev/null; then
  python3 -m venv .venv
  .venv/bin/python -m pip install --quiet torch transformers
fi
cargo build -q --release -p finetune
"${CARGO_TARGET_DIR:-target}/release/finetune" bench --shape "$shape" --rounds "$rounds" \
  --steps "$steps" --python .venv/bin/python
