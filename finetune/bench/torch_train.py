"""PyTorch + transformers side of `finetune bench`: trains a randomly initialised Llama of the
same shape, batch and sequence length as the project's trainer, and prints one JSON line.

Run by `finetune bench` (which embeds this file); by hand:
    .venv/bin/python finetune/bench/torch_train.py --shape tiny --steps 5
"""
import argparse
import json
import resource
import time

SHAPES = {
    # name: (hidden, layers, heads, kv_heads, intermediate, vocab, rope_theta)
    "tiny": (256, 4, 4, 4, 688, 8192, 10000.0),
    "smollm2-135m": (576, 30, 9, 3, 1536, 49152, 100000.0),
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shape", choices=SHAPES, default="tiny")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()

    import torch
    import transformers

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    hidden, layers, heads, kv, inter, vocab, theta = SHAPES[a.shape]
    cfg = transformers.LlamaConfig(
        vocab_size=vocab, hidden_size=hidden, intermediate_size=inter,
        num_hidden_layers=layers, num_attention_heads=heads, num_key_value_heads=kv,
        rms_norm_eps=1e-5, rope_theta=theta, tie_word_embeddings=True,
        max_position_embeddings=2048, attn_implementation="sdpa",
    )
    model = transformers.LlamaForCausalLM(cfg).float()
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.01)
    gen = torch.Generator().manual_seed(a.seed)
    ids = torch.randint(0, vocab, (a.batch, a.seq + 1), generator=gen)
    inputs, labels = ids[:, :-1], ids[:, 1:]

    times, losses = [], []
    for step in range(a.warmup + a.steps):
        t0 = time.perf_counter()
        logits = model(input_ids=inputs).logits
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, vocab), labels.reshape(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        if step >= a.warmup:
            times.append(time.perf_counter() - t0)
        losses.append(loss.item())
    times.sort()
    median = times[len(times) // 2]
    print(json.dumps({
        "engine": "pytorch",
        "version": f"torch {torch.__version__}, transformers {transformers.__version__}",
        "parameters": sum(p.numel() for p in model.parameters()),
        "s_per_step": median,
        "tokens_per_s": a.batch * a.seq / median,
        "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "first_loss": losses[0],
        "last_loss": losses[-1],
    }))


if __name__ == "__main__":
    main()
