#!/usr/bin/env python3
"""Check that a tagger saved by `finetune tag train` loads in Hugging Face `transformers`
(AutoModelForTokenClassification + AutoTokenizer) and gives the token probabilities that the
Rust model gives, and optionally compare their speed.

Usage:
    .venv/bin/python scripts/check_tagger_transformers.py --model runs/NAME \
        [--binary target/release/finetune] [--texts FILE] [--tolerance 1e-4] [--threads 2] \
        [--bench out/tag/gold/test.jsonl] [--batch-size 16] [--stride 0] [--repeat 1]

Logit check: for each text (eight built-in car-review sentences, or --texts FILE with one text
per line) the script runs `finetune tag predict --model MODEL --text TEXT --tokens`, which prints
the normalised text and every content token's byte offsets and probabilities (O, B-PART,
I-PART). It feeds that normalised text to transformers and compares token count, offsets and
probabilities (absolute difference at most --tolerance). Texts longer than one window (more
than max length - 2 content tokens) are skipped: the Rust side splits them into windows.

Speed (--bench FILE, a JSONL whose lines have a "text" key): the transformers
`pipeline("token-classification", aggregation_strategy="simple")` on the CPU over every text
(after one warm-up call; texts longer than the window go through the pipeline's `stride`
chunking, stride --stride tokens of overlap), against the wall clock of
`finetune tag predict --input FILE --out TMP -q --threads N` (process start to end, model load
included). Both sides use --threads threads. Reviews/s are printed with and without the model
load; the Rust load is estimated by timing `finetune tag predict --text x` (start, load, one
tiny forward pass).

Exits 0 when every compared text agrees, 1 on a mismatch, 2 on errors. Needs torch and
transformers (bash scripts/setup-models.sh --reference installs them into .venv).
"""

import argparse
import inspect
import json
import os
import subprocess
import sys
import tempfile
import time

TEXTS = [
    "The front brake pads wore out after only 20,000 miles.",
    "Love the heated seats and the  panoramic sunroof, but the infotainment screen freezes.",
    "Transmission started slipping at 60k; the dealer replaced the torque converter.",
    "Great engine, smooth ride, and the headlights are very bright at night.",
    "The rear wiper motor died and the tailgate latch rattles on rough roads.",
    "Fuel economy is about 32 mpg on the highway with the cruise control on.",
    "Steering feels vague and the tires are noisy above 70 mph.",
    "The Citroën's café-style seats are comfy, but the A/C compressor failed twice.",
]


def fail(msg: str) -> int:
    print(f"error: {msg}", file=sys.stderr)
    return 2


def byte_offsets(text: str):
    """Map a character offset of `text` to its byte offset in UTF-8."""
    table = [0]
    for ch in text:
        table.append(table[-1] + len(ch.encode("utf-8")))
    return table


def rust_tokens(binary: str, model: str, text: str, threads: int) -> dict:
    cmd = [binary, "tag", "predict", "--model", model, "--text", text, "--tokens", "-q",
           "--threads", str(threads)]
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:4])} ... exited {res.returncode}: {res.stderr.strip()}")
    return json.loads(res.stdout)


def logit_check(args, torch, tok, model) -> int:
    """The number of mismatching texts (skipped texts excluded); prints one line per text."""
    texts = TEXTS
    if args.texts:
        with open(args.texts, encoding="utf-8") as f:
            texts = [l.strip() for l in f if l.strip()]
    room = args.max_length - tok.num_special_tokens_to_add(pair=False)
    worst = 0.0
    bad = compared = skipped = 0
    for text in texts:
        rust = rust_tokens(args.binary, args.model, text, args.threads)
        norm = rust["text"]
        rt = rust["tokens"]
        if len(rt) > room:
            skipped += 1
            print(f"skip {len(rt)} tokens > {room} (more than one window)  {norm[:50]}")
            continue
        enc = tok(norm, return_offsets_mapping=True, return_tensors="pt")
        offsets = enc.pop("offset_mapping")[0].tolist()
        with torch.no_grad():
            probs = torch.softmax(model(**enc).logits[0].float(), dim=-1).tolist()
        to_byte = byte_offsets(norm)
        hf = [((to_byte[a], to_byte[b]), p) for (a, b), p in zip(offsets, probs) if (a, b) != (0, 0)]
        compared += 1
        problems = []
        if len(hf) != len(rt):
            problems.append(f"{len(hf)} tokens vs rust {len(rt)}")
        diff = 0.0
        for k, ((span, p), r) in enumerate(zip(hf, rt)):
            if span != (r["start"], r["end"]):
                problems.append(f"token {k} offsets {span} vs rust ({r['start']}, {r['end']})")
                break
            diff = max(diff, max(abs(a - b) for a, b in zip(p, r["probabilities"])))
        worst = max(worst, diff)
        if diff > args.tolerance:
            problems.append(f"max |dp| {diff:.2e} > {args.tolerance:g}")
        bad += bool(problems)
        status = "BAD" if problems else "ok "
        print(f"{status} {len(hf):3d} tokens  max |dp| {diff:.2e}  {norm[:50]}"
              + (f"  ({'; '.join(problems)})" if problems else ""))
    print(f"logit check: {compared - bad}/{compared} texts agree ({skipped} skipped); "
          f"largest probability difference {worst:.2e} (tolerance {args.tolerance:g})")
    if compared == 0:
        print("logit check: no text fits one window; nothing compared", file=sys.stderr)
        return 1
    return bad


def bench(args, torch, tok, model, load_s: float, import_s: float) -> None:
    from transformers import TokenClassificationPipeline, pipeline

    with open(args.bench, encoding="utf-8") as f:
        texts = [json.loads(l)["text"] for l in f if l.strip()]
    n = len(texts)
    room = args.max_length - tok.num_special_tokens_to_add(pair=False)
    lengths = [len(ids) for ids in tok(texts, add_special_tokens=False, verbose=False)["input_ids"]]
    long = sum(l > room for l in lengths)
    print(f"\nbench: {n} texts from {args.bench}, {sum(lengths)} content tokens, "
          f"{long} longer than one window ({room} tokens); {args.threads} threads each side")

    t0 = time.perf_counter()
    kwargs = {}
    stride_ok = tok.is_fast and "stride" in inspect.signature(
        TokenClassificationPipeline._sanitize_parameters).parameters
    if stride_ok:
        kwargs["stride"] = args.stride
        windows = len(tok(texts, truncation=True, max_length=args.max_length, stride=args.stride,
                          return_overflowing_tokens=True)["input_ids"])
        note = f"long texts chunked by the pipeline, stride {args.stride} ({windows} windows)"
    else:
        note = f"long texts TRUNCATED to {args.max_length} tokens (pipeline has no stride here)"
    pipe = pipeline("token-classification", model=model, tokenizer=tok,
                    aggregation_strategy="simple", device=-1, **kwargs)
    pipe_s = time.perf_counter() - t0
    print(f"transformers: {note}; batch size {args.batch_size}")

    # The Rust load: process start, model load and one tiny forward pass.
    t0 = time.perf_counter()
    rust_tokens(args.binary, args.model, "x", args.threads)
    rust_load_s = time.perf_counter() - t0

    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "predictions.jsonl")
        for run in range(1, args.repeat + 1):
            pipe(texts[0])  # warm-up
            t0 = time.perf_counter()
            hf_out = pipe(texts, batch_size=args.batch_size)
            hf_s = time.perf_counter() - t0
            hf_spans = sum(len(x) for x in hf_out)

            cmd = [args.binary, "tag", "predict", "--model", args.model, "--input", args.bench,
                   "--out", out, "-q", "--threads", str(args.threads)]
            t0 = time.perf_counter()
            res = subprocess.run(cmd, capture_output=True, text=True)
            rust_s = time.perf_counter() - t0
            if res.returncode != 0:
                raise RuntimeError(f"{' '.join(cmd[:4])} ... exited {res.returncode}: {res.stderr.strip()}")
            with open(out, encoding="utf-8") as f:
                rust_rows = [json.loads(l) for l in f]
            if len(rust_rows) != n:
                raise RuntimeError(f"rust wrote {len(rust_rows)} predictions for {n} texts")
            rust_spans = sum(len(r.get("spans", [])) for r in rust_rows)

            hf_load = load_s + pipe_s
            rust_run = max(rust_s - rust_load_s, 1e-9)
            load = os.getloadavg()[0]
            print(f"run {run}/{args.repeat} (load average {load:.2f})")
            print(f"  {'':28} {'transformers':>14} {'rust':>14} {'rust/transformers':>18}")
            print(f"  {'with model load  reviews/s':28} {n / (hf_s + hf_load):14.2f} {n / rust_s:14.2f}"
                  f" {(n / rust_s) / (n / (hf_s + hf_load)):18.2f}")
            print(f"  {'without load     reviews/s':28} {n / hf_s:14.2f} {n / rust_run:14.2f}"
                  f" {(n / rust_run) / (n / hf_s):18.2f}")
            print(f"  {'wall clock s (run + load)':28} {hf_s:8.2f}+{hf_load:5.2f} "
                  f"{rust_run:8.2f}+{rust_load_s:5.2f}")
            print(f"  {'spans found':28} {hf_spans:14d} {rust_spans:14d}")
    print(f"transformers load = from_pretrained (model, tokenizer) {load_s:.2f} s + pipeline "
          f"{pipe_s:.2f} s (importing torch and transformers took {import_s:.2f} s more); rust load "
          f"= wall clock of `tag predict --text x` (estimate), subtracted from its run")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True, help="a tagger directory (tag train --out)")
    ap.add_argument("--binary", default="target/release/finetune", help="the finetune binary")
    ap.add_argument("--texts", default=None, help="a file with one text per line")
    ap.add_argument("--max-length", type=int, default=None,
                    help="tokens per window (default: the tokenizer's model_max_length)")
    ap.add_argument("--tolerance", type=float, default=1e-4)
    ap.add_argument("--threads", type=int, default=2, help="threads for torch and for finetune")
    ap.add_argument("--bench", default=None, help="a JSONL with a \"text\" key per line: time both")
    ap.add_argument("--batch-size", type=int, default=16, help="transformers pipeline batch size")
    ap.add_argument("--stride", type=int, default=0,
                    help="tokens of overlap between the pipeline's windows of a long text "
                         "(0: none, as the Rust windows)")
    ap.add_argument("--repeat", type=int, default=1, help="speed runs")
    args = ap.parse_args()

    if not os.path.isdir(args.model):
        return fail(f"{args.model} is not a directory")
    if not (os.path.isfile(args.binary) and os.access(args.binary, os.X_OK)):
        return fail(f"{args.binary} not found (cargo build --release -p finetune)")
    if args.bench and not os.path.isfile(args.bench):
        return fail(f"{args.bench} not found")

    t0 = time.perf_counter()
    try:
        import torch
        from transformers import AutoModelForTokenClassification, AutoTokenizer
        from transformers.utils import logging as hf_logging
    except ImportError as e:
        return fail(f"{e} (run: bash scripts/setup-models.sh --reference)")
    import_s = time.perf_counter() - t0
    torch.set_num_threads(args.threads)
    hf_logging.disable_progress_bar()

    try:
        t0 = time.perf_counter()
        tok = AutoTokenizer.from_pretrained(args.model)
        model = AutoModelForTokenClassification.from_pretrained(args.model)
        model.eval()
        load_s = time.perf_counter() - t0
        if args.max_length is None:
            args.max_length = int(tok.model_max_length)
        print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; "
              f"{type(model).__name__} labels {model.config.id2label}; max length {args.max_length}")

        bad = logit_check(args, torch, tok, model)
        if args.bench:
            bench(args, torch, tok, model, load_s, import_s)
    except (OSError, RuntimeError, ValueError, KeyError, json.JSONDecodeError) as e:
        return fail(str(e))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
