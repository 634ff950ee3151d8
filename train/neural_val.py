"""What the encoder reads in training (`fold_text`) and each head's validation figure for a
fitted model (`val_metrics`), used by `python -m train.neural soup` to rank runs."""

from __future__ import annotations

from typing import Any

from train import data as D
from train.neural_data import MAX_TOKENS


def fold_text(text: str, emoji: bool = False) -> str:
    """What the encoder reads: the checker's folded text (look-alikes, zero-width, stretching
    undone; with `emoji`, emoji as words)."""
    from checker.neural import encoder_input
    from checker.text import fold

    return encoder_input(fold(text).text, emoji)


def val_metrics(model: Any, tok: Any, val: dict[str, list[D.Example]]) -> dict[str, float]:
    """Each head's validation figure for a fitted model (fp32, model alone; calibration does the rest).

    conduct: best OLID-val macro-F1 over thresholds; commercial: mean recall on the SMS and
    YouTube validation fifths at the lowest threshold with precision >= 0.97 on each; political:
    recall on our held-out advocacy posts at the lowest threshold flagging at most one held-out
    everyday message."""
    import numpy as np
    import torch

    from train.calibrate import COMMERCIAL_FLOOR, POLITICAL_HAM_BUDGET
    from train.metrics import macro_f1, precision_recall

    model.eval()

    def probs(exs: list[D.Example], head: int) -> np.ndarray:
        texts = [fold_text(r.text) for r in exs]
        out = []
        with torch.no_grad():
            for i in range(0, len(texts), 64):
                b = tok(texts[i:i + 64], truncation=True, max_length=MAX_TOKENS, padding=True, return_tensors="pt")
                out.append(torch.sigmoid(model(b["input_ids"], b["attention_mask"]))[:, head].numpy())
        return np.concatenate(out)

    grid = np.round(np.arange(0.05, 0.996, 0.005), 3)
    y = np.array([r.label for r in val["olid"]])
    p = probs(val["olid"], 0)
    conduct = max(macro_f1(y, p >= t) for t in grid)
    sets = [(np.array([r.label for r in val[w]]), probs(val[w], 1)) for w in ("sms", "youtube")]
    commercial = 0.0
    for t in grid:
        pr = [precision_recall(p >= t, y) for y, p in sets]
        if all(prec >= COMMERCIAL_FLOOR for prec, _ in pr):
            commercial = float(np.mean([r for _, r in pr]))
            break
    ham = np.sort(probs(val["ham"], 2))
    t = ham[-1 - POLITICAL_HAM_BUDGET]  # flags at most POLITICAL_HAM_BUDGET held-out everyday messages
    political = float((probs(val["political_own"], 2) > t).mean())
    return {"conduct": round(float(conduct), 4), "commercial": round(commercial, 4), "political": round(political, 4)}
