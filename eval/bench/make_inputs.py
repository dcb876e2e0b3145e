"""Synthetic inputs of realistic size for timing `eval` (no real data is copied).

Writes into DIR (argument 1):
  gold.csv, predictions.jsonl   87,525 reviews (the size of the Edmunds set), parts drawn from a
                                300-part vocabulary, predictions right about 80% of the time;
  runs/long{1,2}/results.csv    two runs of 20,000 steps, validation every 100;
  classify.jsonl                3,080 predictions over 77 classes (the BANKING77 test size).
"""
import json
import math
import os
import random
import sys

out = sys.argv[1]
rng = random.Random(0)
os.makedirs(out, exist_ok=True)
parts = [f"part {i}" for i in range(300)]
weights = [1 / (i + 1) for i in range(300)]

with open(f"{out}/gold.csv", "w") as g, open(f"{out}/predictions.jsonl", "w") as p:
    g.write("source_file,index,Review,List_part\n")
    for i in range(87525):
        gold = sorted(set(rng.choices(parts, weights, k=rng.randint(0, 4))))
        pred = [x for x in gold if rng.random() < 0.85]
        if rng.random() < 0.2:
            pred.append(rng.choice(parts))
        g.write('bench.csv,%d,text,"%s"\n' % (i, json.dumps(gold).replace('"', '""')))
        p.write(json.dumps({"id": f"bench.csv#{i}", "completion": " " + ", ".join(pred), "parts": pred}) + "\n")

header = ("step,elapsed_tokens,elapsed_examples,training_loss,training_sequence_accuracy,"
          "training_token_accuracy,validation_loss,validation_sequence_accuracy,"
          "validation_token_accuracy")
for run, start in (("long1", 2.8), ("long2", 1.2)):
    os.makedirs(f"{out}/runs/{run}", exist_ok=True)
    with open(f"{out}/runs/{run}/results.csv", "w") as f:
        f.write(header + "\n")
        for s in range(1, 20001):
            mean = (start - 0.2) * math.exp(-s / 3000) + 0.2
            loss = mean * (1 + rng.uniform(-0.3, 0.3))
            row = [s, s * 1000, s * 8, round(loss, 4), rng.randint(0, 8) / 8, round(1 - loss / 3.4, 4)]
            row += [round(mean, 4), 0.5, round(1 - mean / 3.4, 4)] if s % 100 == 0 else ["", "", ""]
            f.write(",".join(map(str, row)) + "\n")

with open(f"{out}/classify.jsonl", "w") as f:
    for i in range(3080):
        label = rng.randrange(77)
        predicted = label if rng.random() < 0.9 else rng.randrange(77)
        f.write(json.dumps({"id": f"test.csv#{i}", "label": f"intent_{label:02}", "predicted": f"intent_{predicted:02}"}) + "\n")
