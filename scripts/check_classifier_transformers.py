#!/usr/bin/env python3
"""Check that a classifier saved by `finetune classify train` loads in Hugging Face
`transformers` (AutoModelForSequenceClassification + AutoTokenizer) and predicts what the Rust
model predicts on ten texts.

Usage:
    .venv/bin/python scripts/check_classifier_transformers.py --model runs/NAME \
        [--binary target/release/finetune] [--texts FILE] [--max-length 128]

--texts is a file with one text per line (the first ten are used); by default ten built-in
texts are used. Exits 0 when every predicted label agrees and the probabilities differ by less
than --tolerance, 1 otherwise, 2 on errors. Needs torch and transformers
(scripts/setup-models.sh --reference installs them into .venv).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

TEXTS = [
    "I still have not received my new card, when will it arrive?",
    "My card payment was declined at the shop today.",
    "How do I change my PIN?",
    "I was charged twice for the same purchase.",
    "Can I top up my account with a cheque?",
    "The exchange rate you applied looks wrong.",
    "Someone stole my wallet with my card in it.",
    "Why is my transfer still pending after three days?",
    "What fees do you charge for withdrawing cash abroad?",
    "Please close my account.",
]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--binary", default=None, help="the finetune binary (default: cargo run --release)")
    ap.add_argument("--texts", default=None)
    ap.add_argument("--max-length", type=int, default=128)
    ap.add_argument("--tolerance", type=float, default=1e-3)
    args = ap.parse_args()

    texts = TEXTS
    if args.texts:
        with open(args.texts, encoding="utf-8") as f:
            texts = [l.strip() for l in f if l.strip()][:10]

    try:
        import torch
        from transformers import AutoModelForSequenceClassification, AutoTokenizer
    except ImportError as e:
        print(f"error: {e} (run scripts/setup-models.sh --reference)", file=sys.stderr)
        return 2

    tok = AutoTokenizer.from_pretrained(args.model)
    model = AutoModelForSequenceClassification.from_pretrained(args.model)
    model.eval()
    with torch.no_grad():
        enc = tok(texts, padding=True, truncation=True, max_length=args.max_length, return_tensors="pt")
        probs = torch.softmax(model(**enc).logits, dim=-1).numpy()
    id2label = model.config.id2label

    with tempfile.TemporaryDirectory() as tmp:
        inp = os.path.join(tmp, "texts.jsonl")
        out = os.path.join(tmp, "preds.jsonl")
        with open(inp, "w", encoding="utf-8") as f:
            for t in texts:
                f.write(json.dumps({"text": t}) + "\n")
        cmd = [args.binary] if args.binary else ["cargo", "run", "--release", "-q", "-p", "finetune", "--"]
        cmd += ["classify", "predict", "--model", args.model, "--input", inp, "--out", out,
                "--max-length", str(args.max_length), "--quiet"]
        subprocess.run(cmd, check=True)
        with open(out, encoding="utf-8") as f:
            rust = [json.loads(l) for l in f]

    worst = 0.0
    agree = 0
    for i, (t, r) in enumerate(zip(texts, rust)):
        hf_label = id2label[int(probs[i].argmax())]
        diff = max(abs(float(probs[i][j]) - r["probabilities"][id2label[j]]) for j in range(len(id2label)))
        worst = max(worst, diff)
        ok = hf_label == r["predicted"]
        agree += ok
        print(f"{'ok ' if ok else 'BAD'} transformers {hf_label:<28} rust {r['predicted']:<28} max |dp| {diff:.2e}  {t[:50]}")
    print(f"{agree}/{len(texts)} labels agree; largest probability difference {worst:.2e}")
    return 0 if agree == len(texts) and worst < args.tolerance else 1


if __name__ == "__main__":
    sys.exit(main())
