#!/usr/bin/env bash
# Scores the labeler and a fine-tuned decoder run on the hand-annotated reviews, side by side.
#
#   bash scripts/extract_gold.sh LABELED.parquet|csv [RUN_DIR...]
#
# LABELED: the whole corpus labeled by `label` (it provides the review texts and the teacher's
# parts; a .csv also gives the error contexts). For each RUN_DIR, the prompts of the annotated
# reviews are exported from LABELED (`jsonl export --only`), the run predicts them
# (`finetune predict`, greedy), and `eval score --annotations` scores both extractors on
# ../shared/gold/dev.jsonl, data/gold/tune.jsonl and data/gold/report.jsonl (report: held out).
# Release binaries are built first.
set -euo pipefail
cd "$(dirname "$0")/.."
[[ $# -ge 1 ]] || { sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 2; }
labeled="$1"; shift
target="${CARGO_TARGET_DIR:-target}"
cargo build -q --release -p jsonl -p finetune -p eval
bin="$target/release"
gold=(../shared/gold/dev.jsonl data/gold/tune.jsonl data/gold/report.jsonl)
ann=(); only=()
for g in "${gold[@]}"; do ann+=(--annotations "$g"); only+=(--only "$g"); done

echo "== labeler ($labeled)"
case "$labeled" in
  *.csv) "$bin/eval" score --predictions "$labeled" "${ann[@]}" --worst 0 | grep -v '^$' ;;
  *) echo "(score the labeler from a .csv table: label --output out/edmunds.csv)" ;;
esac

for run in "$@"; do
  prompts="$run/gold-prompts"
  rm -rf "$prompts"
  # The run's dataset format: chat when its training file holds chat lines.
  format=legacy
  head -c 200 "$run/train.jsonl" 2>/dev/null | grep -q '"messages"' && format=chat
  "$bin/jsonl" export --input "$labeled" --format "$format" --out "$prompts" "${only[@]}" \
    --split 0,0,1 --quiet
  "$bin/finetune" predict --model "$run" --input "$prompts/test.jsonl" \
    --out "$run/gold-predictions.jsonl" --quiet
  echo "== $run"
  "$bin/eval" score --predictions "$run/gold-predictions.jsonl" "${ann[@]}" --worst 0 \
    | grep -v '^$'
done
