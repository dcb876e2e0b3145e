#!/usr/bin/env bash
# The held-out-parts experiment: does fine-tuning teach the model "what a part is", or does it
# only copy the lexicon? The training data is labeled WITHOUT a fraction of the lexicon's parts,
# the test set WITH all of them; `eval score --heldout-parts` then reports recall on the parts
# the model never saw labeled beside recall on the seen ones.
#
# Usage, from the repository root, after scripts/setup-models.sh:
#   bash eval/bench/heldout_experiment.sh
# Knobs (environment): DATA, LEXICON, MODEL, FRACTION, SEED, ROWS, EPOCHS, TEST_ROWS, VALID_ROWS,
# MAX_TOKENS (examples longer than this many model tokens are left out; 0 keeps all), OUT, RUN,
# FEATURES (e.g. "cuda" on a GPU machine).
#
# Note: reviews whose only parts are held out become "none" examples in the training data, so
# the model is also taught to stay silent about them; that is part of what is measured.
set -euo pipefail
DATA=${DATA:-../shared/data/edmunds}
LEXICON=${LEXICON:-data/lexicon.csv}
MODEL=${MODEL:-models/smollm2-135m-instruct}
FRACTION=${FRACTION:-0.2}
SEED=${SEED:-7}
ROWS=${ROWS:-1000}
EPOCHS=${EPOCHS:-1}
TEST_ROWS=${TEST_ROWS:-200}
VALID_ROWS=${VALID_ROWS:-300}
MAX_TOKENS=${MAX_TOKENS:-192}
OUT=${OUT:-out/heldout}
RUN=${RUN:-runs/heldout}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}
bin="$CARGO_TARGET_DIR/release"

cargo build -q --release -p label -p jsonl -p eval
cargo build -q --release -p finetune ${FEATURES:+--features "$FEATURES"}
mkdir -p "$OUT/testset"

# 1. Label twice: training labels without the held-out parts (their list is written), test
#    labels with every part.
"$bin/label" --input "$DATA" --lexicon "$LEXICON" --holdout-parts "$FRACTION" --seed "$SEED" \
    --holdout-list "$OUT/heldout-parts.txt" --output "$OUT/labeled-train.csv" --quiet
"$bin/label" --input "$DATA" --lexicon "$LEXICON" --output "$OUT/labeled-test.csv" --quiet

# 2. Export both with the same split seed: splits are keyed by review id, so the training
#    reviews and the test reviews are disjoint.
limit=()
if [ "$MAX_TOKENS" != 0 ]; then limit=(--max-tokens "$MAX_TOKENS" --tokenizer "$MODEL/tokenizer.json"); fi
"$bin/jsonl" export --input "$OUT/labeled-train.csv" --out "$OUT/train" --seed 42 --rows "$ROWS" \
    "${limit[@]}" --quiet
"$bin/jsonl" export --input "$OUT/labeled-test.csv" --out "$OUT/test" --seed 42 "${limit[@]}" --quiet
head -n "$TEST_ROWS" "$OUT/test/test.jsonl" > "$OUT/testset/test.jsonl"
head -n "$TEST_ROWS" "$OUT/test/test.ids" > "$OUT/testset/test.ids"
head -n "$VALID_ROWS" "$OUT/train/valid.jsonl" > "$OUT/testset/valid.jsonl"

# 3. Fine-tune and predict the test reviews.
"$bin/finetune" train --base "$MODEL" --train "$OUT/train/train.jsonl" \
    --valid "$OUT/testset/valid.jsonl" --epochs "$EPOCHS" --eval-every 50 --save-every 25 \
    --warmup-steps 10 --out "$RUN" --quiet
"$bin/finetune" predict --model "$RUN" --input "$OUT/testset/test.jsonl" \
    --out "$RUN/predictions.jsonl" --quiet

# 4. Scores (held-out vs seen recall), written into the run for `eval compare`/`eval report`.
"$bin/eval" score --predictions "$RUN/predictions.jsonl" --gold "$OUT/testset/test.jsonl" \
    --heldout-parts "$OUT/heldout-parts.txt" --out "$RUN/"
"$bin/eval" curves "$RUN" --out "$RUN/charts" > /dev/null
"$bin/eval" report "$RUN" --out "$RUN/report.html" --title "held-out parts ($FRACTION, seed $SEED)"
