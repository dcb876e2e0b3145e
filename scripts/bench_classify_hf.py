#!/usr/bin/env python3
"""Training speed of the Hugging Face Trainer on a classification file, for comparison with
`finetune classify train` on the same model, data and CPU (examples per second, evaluation
excluded).

Usage:
    .venv/bin/python scripts/bench_classify_hf.py --base models/all-minilm-l6-v2 \
        --train ../shared/data/classification/banking77/train.csv --steps 60 \
        [--batch-size 32] [--max-length 64] [--threads 2]

Reads a CSV with a header (text column `text`, label column `category` or `label`), trains
--steps optimizer steps of batch --batch-size with dynamic padding and prints one JSON line:
{"steps", "examples", "seconds", "examples_per_second"} (the first 5 steps are warm-up and not
timed). Needs torch and transformers (scripts/setup-models.sh --reference).
"""

import argparse
import csv
import json
import time


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", required=True)
    ap.add_argument("--train", required=True)
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--max-length", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--learning-rate", type=float, default=1e-4)
    args = ap.parse_args()

    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, Trainer, TrainerCallback, TrainingArguments

    torch.set_num_threads(args.threads)
    with open(args.train, encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    label_key = "category" if "category" in rows[0] else "label"
    labels = sorted({r[label_key] for r in rows})
    index = {l: i for i, l in enumerate(labels)}
    tok = AutoTokenizer.from_pretrained(args.base)
    model = AutoModelForSequenceClassification.from_pretrained(
        args.base, num_labels=len(labels), id2label=dict(enumerate(labels)), label2id=index
    )
    enc = tok([r["text"] for r in rows], truncation=True, max_length=args.max_length)
    data = [
        {"input_ids": enc["input_ids"][i], "attention_mask": enc["attention_mask"][i], "labels": index[r[label_key]]}
        for i, r in enumerate(rows)
    ]

    class Timer(TrainerCallback):
        def __init__(self):
            self.start = None
            self.step = 0

        def on_step_end(self, a, state, control, **kw):
            self.step = state.global_step
            if state.global_step == 5:
                self.start = time.perf_counter()

    timer = Timer()
    targs = TrainingArguments(
        output_dir="/tmp/bench_classify_hf",
        per_device_train_batch_size=args.batch_size,
        max_steps=args.steps,
        learning_rate=args.learning_rate,
        warmup_steps=3,
        weight_decay=0.01,
        logging_strategy="no",
        save_strategy="no",
        eval_strategy="no",
        report_to=[],
        use_cpu=True,
        dataloader_num_workers=0,
        seed=42,
    )
    from transformers import DataCollatorWithPadding

    trainer = Trainer(model=model, args=targs, train_dataset=data, data_collator=DataCollatorWithPadding(tok), callbacks=[timer])
    trainer.train()
    seconds = time.perf_counter() - timer.start
    steps = args.steps - 5
    print(json.dumps({
        "framework": "transformers Trainer", "torch": torch.__version__, "steps": steps,
        "examples": steps * args.batch_size, "seconds": round(seconds, 2),
        "examples_per_second": round(steps * args.batch_size / seconds, 2),
    }))


if __name__ == "__main__":
    main()
