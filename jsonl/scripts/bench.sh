#!/usr/bin/env bash
# Benchmark of `jsonl` on the labeled real corpus (87,525 Kaggle Edmunds reviews): export in
# both formats, then validation of the legacy and chat results with token counting.
#
#   jsonl/scripts/bench.sh            # from the workspace root; prints figures for BENCHMARKS.md
#
# Needs the labeled corpus (built with `label` when missing) and a tokenizer.json: the first one
# under models/, else a byte-level BPE trained on the exported text (examples/train_bpe.rs).
set -euo pipefail
cd "$(dirname "$0")/../.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}
LABELED=${LABELED:-out/labeled.parquet}
OUT=${OUT:-out/bench-jsonl}
mkdir -p "$OUT"

cargo build --release -q -p jsonl --bin jsonl --example train_bpe --example check_token_counts
BIN=$CARGO_TARGET_DIR/release/jsonl
if [ ! -f "$LABELED" ]; then
  cargo run --release -q -p label -- --input ../shared/data/edmunds --output "$LABELED" --quiet
fi

timed() { # label, command...
  local what=$1; shift
  /usr/bin/time -f "$what: %e s wall, %U s user, %M KB max RSS" "$@"
}

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "input: $LABELED ($(du -h "$LABELED" | cut -f1))"
timed "export legacy (whole corpus, --split 1,0,0)" \
  "$BIN" export --input "$LABELED" --format legacy --out "$OUT/legacy" --split 1,0,0
timed "export chat (whole corpus, --split 1,0,0)" \
  "$BIN" export --input "$LABELED" --format chat --out "$OUT/chat" --split 1,0,0 --quiet

TOKENIZER=${TOKENIZER:-models/smollm2-135m-instruct/tokenizer.json}
[ -f "$TOKENIZER" ] || TOKENIZER=$(find models -name tokenizer.json 2>/dev/null | head -1 || true)
if [ -z "$TOKENIZER" ]; then
  TOKENIZER=$OUT/bpe-tokenizer.json
  if [ ! -f "$TOKENIZER" ]; then
    "$CARGO_TARGET_DIR/release/examples/train_bpe" "$OUT/legacy/train.jsonl" "$TOKENIZER" 8000
  fi
  echo "tokenizer: byte-level BPE, 8000 tokens, trained on the exported text (no model tokenizer under models/)"
else
  echo "tokenizer: $TOKENIZER"
fi

echo "load average before validation: $(cut -d' ' -f1-3 /proc/loadavg)"
for f in legacy chat; do
  echo "$f: $(wc -l < "$OUT/$f/train.jsonl") lines, $(du -h "$OUT/$f/train.jsonl" | cut -f1)"
  timed "validate $f with token counting" \
    "$BIN" validate "$OUT/$f/train.jsonl" --tokenizer "$TOKENIZER" > "$OUT/validate-$f.txt" || true
  tail -n 6 "$OUT/validate-$f.txt" | sed 's/^/  /'
done
timed "validate legacy without tokenizer" "$BIN" validate "$OUT/legacy/train.jsonl" > /dev/null || true
echo "fast token count vs the tokenizer's own pipeline (every text of the chat export):"
"$CARGO_TARGET_DIR/release/examples/check_token_counts" "$TOKENIZER" "$OUT/chat/train.jsonl" | sed 's/^/  /'
