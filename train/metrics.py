"""What the training scripts choose by: F1, precision and recall, what the rule layer alone fires
on, and the shipped policy's rules (whose settings the models are scored under)."""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

import numpy as np

if TYPE_CHECKING:
    from checker import Policy
    from checker.model import Account
    from checker.rules import Rule

R = TypeVar("R", bound="Rule")


def f1_pos(y: np.ndarray, p: np.ndarray) -> float:
    """F1 of the positive class."""
    tp = int(((y == 1) & (p == 1)).sum())
    d = 2 * tp + int(((y == 0) & (p == 1)).sum()) + int(((y == 1) & (p == 0)).sum())
    return 2 * tp / d if d else 0.0


def macro_f1(y: np.ndarray, p: np.ndarray) -> float:
    """Macro-F1 over both classes."""
    return (f1_pos(y, p) + f1_pos(1 - y, 1 - p)) / 2


def precision_recall(pred: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Precision and recall of boolean predictions against 0/1 labels (0 where undefined)."""
    tp = int((pred & (y == 1)).sum())
    return tp / max(int(pred.sum()), 1), tp / max(int((y == 1).sum()), 1)


def rule_fires(texts: list[str], rule: str, account: Account) -> np.ndarray:
    """1 where the rule layer alone (models switched off) fires on the text."""
    from checker import Post, check, load_policy
    from checker.neural import disable_encoders

    policy = load_policy(None)
    disable_encoders(policy)
    for r in policy.rules:
        if hasattr(r, "model"):
            r.model = None
    return np.array([int(rule in check(Post(text=t, account=account), policy).fired) for t in texts])


def policy_rule(policy: Policy, rule_id: str, cls: type[R]) -> R:
    """The policy's rule `rule_id` (KeyError when absent), checked to be a `cls`."""
    rule = {r.id: r for r in policy.rules}[rule_id]
    if not isinstance(rule, cls):
        raise TypeError(f"rule {rule_id!r} is a {type(rule).__name__}, not a {cls.__name__}")
    return rule
