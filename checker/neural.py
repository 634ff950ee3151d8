"""The fine-tuned encoder (`checker/models/<name>.onnx`): one pass per post, a probability per head.

A 6-layer MiniLM fine-tuned by `python -m train.neural` with three heads (conduct, commercial,
political), exported to ONNX and quantized to int8. It runs in ONNX Runtime on one thread, so a
post costs ~1 ms for a tweet-sized text and ~3.5 ms at the 64-token cap (docs/models.md).

Calibration (`<name>.json`, written by `python -m train.neural calibrate`): per head, a blend
weight with the head's linear model (`checker/models/<head>.npz`) and a threshold, both chosen on
validation; `combined()` maps the blended score so that 0.5 is that threshold, like the linear
models' shifted intercepts (a rule's `model_threshold = 0.5` means "as validated").

The encoder reads the checker's folded text (the same view training used). Texts longer than
`max_tokens` word pieces are read in their first `max_tokens` pieces; the rules and the linear
models still read the whole text.
"""

from __future__ import annotations

import importlib.util
import json
import math
import re
import unicodedata
from collections.abc import Callable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from checker.links import find_urls
from checker.textmodel import MODELS_DIR, Word, cached_tokens

if TYPE_CHECKING:  # imported lazily at run time (see Encoder.warm)
    from onnxruntime import InferenceSession
    from tokenizers import Tokenizer


class Encoder:
    """An ONNX text encoder with named sigmoid heads."""

    def __init__(self, onnx_path: Path, meta: dict[str, Any], tokenizer_path: Path) -> None:
        missing = [m for m in ("onnxruntime", "tokenizers") if importlib.util.find_spec(m) is None]
        if missing:  # a policy asks for it, so this is a load error, not a silent skip
            raise ValueError(f"encoder {onnx_path.stem!r} needs {' and '.join(missing)} (pip install -e .)")
        self.name = onnx_path.stem
        self.meta = meta
        self.heads: tuple[str, ...] = tuple(meta["heads"])
        self.max_tokens = int(meta.get("max_tokens", 64))
        self.emoji = bool(meta.get("emoji_words", False))  # trained on emoji as words (`emoji_words`)
        self.thresholds = {h: float(meta.get("thresholds", {}).get(h, 0.5)) for h in self.heads}
        self.blend = {h: float(meta.get("blend", {}).get(h, 1.0)) for h in self.heads}
        for h in self.heads:
            if not (0.0 < self.thresholds[h] < 1.0 and 0.0 <= self.blend[h] <= 1.0):
                raise ValueError(f"encoder {self.name!r}: head {h!r} needs 0 < threshold < 1 and 0 <= blend <= 1")
        self._paths = (onnx_path, tokenizer_path)
        self._session: InferenceSession | None = None
        self._tokenizer: Tokenizer | None = None
        self.probs = lru_cache(maxsize=32)(self._probs)

    def warm(self) -> None:
        """Create the ONNX Runtime session and tokenizer now (≈0.3 s, ≈120 MB).

        They are created on first use, so a process that loads the policy but never checks (the
        proxy's event loop, whose checks run in worker processes) does not pay for them; processes
        that do check call this at start so the first post is not the slow one."""
        if self._session is not None:
            return
        import onnxruntime as ort
        from tokenizers import Tokenizer

        onnx_path, tokenizer_path = self._paths
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1  # one core per check: the proxy runs checks in worker processes
        opts.inter_op_num_threads = 1
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        try:
            session = ort.InferenceSession(str(onnx_path), opts, providers=["CPUExecutionProvider"])
            tok = Tokenizer.from_file(str(tokenizer_path))
        except Exception as e:  # a corrupt artifact: say which, once
            raise ValueError(f"encoder {self.name!r}: cannot load {onnx_path.name} ({e})") from None
        tok.no_padding()
        tok.enable_truncation(self.max_tokens)
        self._tokenizer, self._session = tok, session

    @property
    def session(self) -> InferenceSession:
        """The ONNX Runtime session (created on first use)."""
        self.warm()
        assert self._session is not None
        return self._session

    @property
    def tokenizer(self) -> Tokenizer:
        """The word-piece tokenizer (created on first use)."""
        self.warm()
        assert self._tokenizer is not None
        return self._tokenizer

    def _probs(self, text: str) -> dict[str, float]:
        """Probability per head for (folded) text; cached, so the post's other rules reuse the pass."""
        return dict(zip(self.heads, self.raw_probs([text])[0], strict=True))

    def combined(self, head: str, p_encoder: float, p_linear: float | None) -> float:
        """The head's blended score, mapped so that 0.5 is the validated threshold."""
        a = self.blend[head]
        s = p_encoder if p_linear is None else a * p_encoder + (1 - a) * p_linear
        t = self.thresholds[head]
        return s / (2 * t) if s < t else 0.5 + (s - t) / (2 * (1 - t))

    def drivers(self, head: str, folded: str, linear: Callable[[str], float] | None,
                skip: frozenset[str] = frozenset(), top_n: int = 3) -> tuple[tuple[str, float, int, int], ...]:
        """The words whose deletion lowers the head's blended score most: (word, drop, start, end).

        Occlusion: the post is scored again with each candidate word deleted, all variants and
        the post in one batched pass, and each variant's linear score recomputed with `linear`.
        So the words a finding names are the ones the blended decision actually rests on, not
        the linear model's guess. Candidates are the first OCCLUDE_MAX content words (`_words`:
        no function words), minus `skip` (identity and mild words, which never count as
        evidence). Rules call this only for findings and only with `encoder_explain` on: the
        pass costs about two thirds of a single pass per candidate.
        """
        i = self.heads.index(head)
        cands = [w for w in _words(folded) if w.text not in skip][:OCCLUDE_MAX]
        if not cands:
            return ()
        variants = [folded[:w.start] + folded[w.end:] for w in cands]
        # The post itself rides in the same batch: int8 activations are scaled per batch, so
        # the drops compare scores computed under the same scales.
        enc = [row[i] for row in self.raw_probs([folded, *variants])]
        base = self.combined(head, enc[0], linear(folded) if linear else None)
        drops = [base - self.combined(head, e, linear(v) if linear else None)
                 for e, v in zip(enc[1:], variants, strict=True)]
        order = sorted(range(len(cands)), key=lambda k: -drops[k])[:top_n]
        return tuple((cands[k].text, drops[k], *_unquoted(folded, cands[k].start, cands[k].end))
                     for k in order if drops[k] > 0)

    def logits(self, texts: list[str]) -> list[list[float]]:
        """Uncalibrated logits per text, in one batched pass. Batch members are scored slightly
        differently than alone (int8 activations are scaled per batch), so the checker and
        calibration pass one text at a time; `drivers` batches a post with its variants."""
        import numpy as np

        encs = self.tokenizer.encode_batch(texts)
        width = max(len(e.ids) for e in encs)
        ids = np.zeros((len(encs), width), dtype=np.int64)
        mask = np.zeros((len(encs), width), dtype=np.int64)
        for i, e in enumerate(encs):
            ids[i, : len(e.ids)] = e.ids
            mask[i, : len(e.ids)] = 1
        out: list[list[float]] = self.session.run(None, {"input_ids": ids, "attention_mask": mask})[0].tolist()
        return out

    def raw_probs(self, texts: list[str]) -> list[list[float]]:
        """Probabilities per (folded) text and head, before blending and calibration."""
        return [[_sigmoid(z) for z in row] for row in self.logits([encoder_input(t, self.emoji) for t in texts])]

    def view(self, namespace: str) -> Encoder:
        """The heads of one namespace as an encoder of their own, sharing this one's session and
        cache: `view("neural")` reads heads `neural:conduct`, ... as `conduct`, ...; `view("")`
        the heads with no namespace. One model then serves several readers with one pass per
        post (`train.joint`: the rules' heads and the judgment heads). An encoder with no
        namespaced heads is its own `view("")`."""
        if not namespace and not any(":" in h for h in self.heads):
            return self
        return HeadView(self, namespace)


class HeadView(Encoder):
    """A namespace of a shared encoder's heads (see `Encoder.view`)."""

    def __init__(self, base: Encoder, namespace: str) -> None:  # no super(): the base holds the model
        prefix = f"{namespace}:" if namespace else ""
        cols = [i for i, h in enumerate(base.heads) if (h.startswith(prefix) if prefix else ":" not in h)]
        if not cols:
            raise ValueError(f"encoder {base.name!r} has no heads in namespace {namespace!r}")
        self.base, self._cols = base, cols
        self.name = f"{base.name}:{namespace}"
        self.meta = base.meta
        self.heads = tuple(base.heads[i][len(prefix):] for i in cols)
        self.max_tokens = base.max_tokens
        self.emoji = base.emoji
        self.thresholds = {h: base.thresholds[prefix + h] for h in self.heads}
        self.blend = {h: base.blend[prefix + h] for h in self.heads}
        self._prefix = prefix
        self.probs = self._probs  # type: ignore[assignment]  # the base caches: every view shares its pass

    def warm(self) -> None:
        self.base.warm()

    @property
    def session(self) -> InferenceSession:
        return self.base.session

    @property
    def tokenizer(self) -> Tokenizer:
        return self.base.tokenizer

    def _probs(self, text: str) -> dict[str, float]:
        p = self.base.probs(text)
        return {h: p[self._prefix + h] for h in self.heads}

    def logits(self, texts: list[str]) -> list[list[float]]:
        return [[row[i] for i in self._cols] for row in self.base.logits(texts)]


_MENTION = re.compile(r"(?<![\w@])@\w+")
OCCLUDE_MAX = 16  # candidate words for `drivers` (one batched pass costs ~2/3 of a single pass per word)

# Function words are never named as what drove a finding ("'You', 'the'" explains nothing), and
# leaving them out keeps the occlusion pass small.
FUNCTION_WORDS = frozenset(
    "a an the of to in on at for from with by about into over as and or but so if than then that "
    "this these those there here is are was were be been being am do does did have has had will "
    "would can could should may might must it its i me my we us our you your he him his she her "
    "they them their what which who whom when where how just also very too up out".split()
)


def _unquoted(text: str, a: int, b: int) -> tuple[int, int]:
    """The span without the quotes a word token may carry ("'INFO'" names INFO)."""
    while a < b and text[a] == "'":
        a += 1
    while b > a and text[b - 1] == "'":
        b -= 1
    return a, b


def _words(folded: str) -> list[Word]:
    """The folded text's content words: two or more letters or digits, no function words or
    symbols. A number counts (a premium-rate number drives much spam), and so does a link or a
    mention (a promoted link can be what drove it)."""
    return [w for w in cached_tokens(folded)
            if len(w.text) > 1 and w.text.isalnum() and w.text not in FUNCTION_WORDS]


def encoder_input(folded: str, emoji: bool = False) -> str:
    """What the encoder reads: links as "URL" and mentions as "@USER", OLID's convention; with
    `emoji`, each emoji as its words (`emoji_words`), for a model trained so.

    A link says nothing about abuse or advocacy, and spam's links would otherwise teach the
    model that every link is an ad (a district page's "Photos: https://...").
    """
    if "." in folded:
        urls = find_urls(folded)
        for (a, b), _ in reversed(urls):
            folded = folded[:a] + "URL" + folded[b:]
    if "@" in folded:
        folded = _MENTION.sub("@USER", folded)
    return emoji_words(folded) if emoji else folded


# Emoji whose Unicode names mislead or say too little; every other emoji reads as its name.
EMOJI_NAMES = {
    "\U0001F602": "laughing", "\U0001F923": "laughing", "\u2764": "heart", "\U0001F5A4": "heart",
    "\U0001F595": "middle finger", "\U0001F92C": "cursing", "\U0001F346": "eggplant",
    "\U0001F351": "peach", "\U0001F4A9": "poop", "\U0001F644": "eye roll", "\U0001F525": "fire",
    "\u26A1": "lightning", "\U0001F3C8": "football", "\U0001F624": "angry", "\U0001F621": "angry",
    "\U0001F60D": "heart eyes", "\U0001F975": "hot face", "\U0001F480": "skull", "\U0001F52A": "knife",
    "\U0001F4A3": "bomb", "\U0001F91E": "fingers crossed", "\U0001F64F": "praying hands",
}
_NAME_DROP = re.compile(r"\b(?:sign|symbol|emoji|with|heavy|black|white|medium|large|small)\b")


@lru_cache(maxsize=1024)
def _emoji_name(ch: str) -> str:
    if ch in EMOJI_NAMES:
        return EMOJI_NAMES[ch]
    name = unicodedata.name(ch, "").lower()
    if not name or name.startswith(("regional indicator", "emoji modifier", "variation selector")):
        return ""
    return " ".join(_NAME_DROP.sub(" ", name).split())


def emoji_words(text: str) -> str:
    """Each emoji (and other pictograph) as its words, a run of the same one once:
    "you 🐀🐀🐀" -> "you rat ", "🔫 tomorrow" -> " pistol  tomorrow". The encoder's word pieces have no
    emoji (each reads as [UNK]), so "a rat" drawn as an emoji would say nothing to it; skin tones,
    flags' letters and variation selectors say nothing and go."""
    if text.isascii():
        return text
    out: list[str] = []
    last = ""
    for ch in text:
        cat = unicodedata.category(ch)
        if ord(ch) < 0x2000 or cat not in ("So", "Sk", "Mn", "Cf") or (cat in ("Mn", "Cf") and ch not in "\ufe0f\u200d"):
            out.append(ch)
            last = ""
            continue
        if ch == last:
            continue
        last = ch
        word = _emoji_name(ch) if cat == "So" else ""
        if word:
            out.append(f" {word} ")
    return "".join(out)


def neutral_view(folded: str, words: frozenset[str]) -> str | None:
    """`folded` with every word of `words` replaced by a neutral one, or None if it has none.

    The counterfactual behind the identity guard: if a post scores under the threshold once the
    group it names is replaced, naming the group is what pushed it over, and it is not flagged.
    """
    hits = [w for w in cached_tokens(folded) if w.text in words]
    if not hits:
        return None
    out, last = [], 0
    for w in hits:
        out += [folded[last:w.start], "local"]
        last = w.end
    out.append(folded[last:])
    return "".join(out)


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z)) if z > -30 else 0.0


_LOADED: dict[str, Encoder] = {}


@runtime_checkable
class _UsesEncoder(Protocol):
    encoder: Encoder | None


class _HasRules(Protocol):
    """A checker.Policy, as far as disable_encoders is concerned (the rules import this module,
    so it cannot import the policy's)."""

    @property
    def rules(self) -> Sequence[object]: ...


def disable_encoders(policy: _HasRules) -> None:
    """Switch a loaded policy's encoder off (rules + linear models only), e.g. for a proxy
    that must trade judgement for throughput (`postguard_encoder=false`)."""
    for r in policy.rules:
        if isinstance(r, _UsesEncoder) and r.encoder is not None:
            r.encoder = None
    if getattr(policy, "judgment", None) is not None:  # the judgment heads are an encoder too
        policy.judgment = None  # type: ignore[attr-defined]


def warm_encoders() -> None:
    """Create every loaded encoder's session now (processes that check: workers, the backend)."""
    for enc in _LOADED.values():
        enc.warm()


def load_encoder(name: str) -> Encoder:
    """`checker/models/<name>.onnx` with its `<name>.json` and `<name>-tokenizer.json`, once per
    process; `<model>:<namespace>` is that namespace of the model's heads (`Encoder.view`)."""
    if ":" in name:
        model, namespace = name.split(":", 1)
        if name not in _LOADED:
            _LOADED[name] = load_encoder(model).view(namespace)
        return _LOADED[name]
    if name not in _LOADED:
        onnx_path = MODELS_DIR / f"{name}.onnx"
        meta_path = MODELS_DIR / f"{name}.json"
        tok_path = MODELS_DIR / f"{name}-tokenizer.json"
        for p in (onnx_path, meta_path, tok_path):
            if not p.is_file():
                raise ValueError(f"encoder {name!r}: {p} not found (run `python -m train.neural`)")
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
        except ValueError as e:
            raise ValueError(f"encoder {name!r}: {meta_path} is not valid JSON ({e})") from None
        _LOADED[name] = Encoder(onnx_path, meta, tok_path)
    return _LOADED[name]
