#!/usr/bin/env python3
"""Run the validators of the old OpenAI CLI (`openai tools fine_tunes.prepare_data`, openai 0.28)
on a legacy prompt/completion JSONL file, non-interactively, and fail when any of them proposes a
remediation (necessary or optional) or reports an error.

Setup (once; the venv is git-ignored):

    python3 -m venv .venv-openai && .venv-openai/bin/pip install "openai==0.28.1" pandas
    .venv-openai/bin/python jsonl/scripts/check_openai_prepare_data.py out/export/train.jsonl

Exit status: 0 no remediation proposed, 1 a remediation or an error was proposed, 2 bad usage.
"""

import sys

try:
    from openai import validators
except ImportError:  # pragma: no cover - depends on the environment
    sys.stderr.write("error: needs openai==0.28.1 (see the docstring)\n")
    sys.exit(2)


def main(argv):
    if len(argv) != 2:
        sys.stderr.write(f"usage: {argv[0]} FILE.jsonl\n")
        return 2
    fname = argv[1]
    df, remediation = validators.read_any_format(fname)
    findings = []
    if remediation is not None:
        findings.append(remediation)
    if df is None or remediation.error_msg is not None:
        sys.stderr.write(f"error: cannot read {fname}: {remediation.error_msg}\n")
        return 1
    # The same order and the same data flow as validators.apply_validators, without prompting:
    # each validator sees the frame after the previous validators' necessary fixes.
    for validator in validators.get_validators():
        r = validator(df)
        if r is None:
            continue
        findings.append(r)
        if r.error_msg is not None:
            break
        if r.necessary_fn is not None:
            df = r.necessary_fn(df)

    problems = 0
    for r in findings:
        if r.immediate_msg:
            sys.stdout.write(r.immediate_msg.lstrip("\n") + "\n")
        for kind, msg in (("ERROR", r.error_msg), ("NECESSARY", r.necessary_msg), ("OPTIONAL", r.optional_msg)):
            if msg is not None:
                problems += 1
                sys.stdout.write(f"{kind} ({r.name}): {msg}\n")
    task = validators.infer_task_type(df)
    sys.stdout.write(f"task type: {task}\n")
    if problems:
        sys.stdout.write(f"FAIL: {problems} remediation(s) or error(s) proposed\n")
        return 1
    sys.stdout.write("OK: no remediation proposed\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
