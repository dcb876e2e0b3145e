#!/usr/bin/env bash
# Times the eval commands on synthetic inputs of realistic size (see make_inputs.py).
# Usage: bash eval/bench/run.sh   (from the repository root; builds eval in release)
set -euo pipefail
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}"
cargo build -q -p eval --release
EVAL="$CARGO_TARGET_DIR/release/eval"
DIR="$(mktemp -d)"
trap 'rm -rf "$DIR"' EXIT
python3 eval/bench/make_inputs.py "$DIR"
t() { local s e; s=$(date +%s.%N); "$@" > /dev/null; e=$(date +%s.%N); printf "%6.2f s  %s\n" "$(echo "$e - $s" | bc)" "${*:2}"; }
t "$EVAL" score --predictions "$DIR/predictions.jsonl" --gold "$DIR/gold.csv" --json
t "$EVAL" curves "$DIR/runs/long1" "$DIR/runs/long2" --out "$DIR/charts"
t "$EVAL" compare "$DIR"/runs/*
t "$EVAL" report "$DIR"/runs/* --out "$DIR/report.html" --quiet
t "$EVAL" classify -q --predictions "$DIR/classify.jsonl" --confusion "$DIR/confusion.png"
ls -l "$DIR/report.html" "$DIR/confusion.png" | awk '{print $5, $NF}' | sed "s|$DIR/||"
