"""conduct: harassing, defamatory, obscene, abusive, discriminatory or threatening posts."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from checker.context import Context
from checker.identity import IDENTITY_TERMS
from checker.model import Finding, Post
from checker.policy_data import PolicyData
from checker.rule import Rule, RuleConfig
from checker.rules._match import (
    Lexicon,
    NormString,
    alternation,
    compile_patterns,
    drivers_text,
    inflect,
    one_regex,
)

if TYPE_CHECKING:
    from checker.textmodel import Score

# (pattern setting, category, score, reason)
PATTERN_KINDS = (
    ("threat_patterns", "threat", 0.95, "a threat of violence"),
    ("harassment_patterns", "harassment", 0.85, "harassment aimed at a person"),
    ("insult_patterns", "insult", 0.8, "an insult aimed at a person"),
    ("hate_patterns", "group-hostility", 0.9, "a demeaning statement about a group"),
    ("defamation_patterns", "defamation", 0.8, "an accusation that may be defamatory"),
    ("sexual_patterns", "sexual-remark", 0.85, "sexual comment about a person"),
)


class Conduct(Rule):
    """Word lists (undisguised first) plus phrase patterns; each finding names its category."""

    id = "conduct"
    defaults = {
        "obscene_lexicon": "profanity",
        "slur_lexicon": "slurs",
        "insult_lexicon": "insults",
        "insult_adjective_lexicon": "insult_adjectives",
        "group_lexicon": "identity_groups",
        "threat_patterns": [],
        "harassment_patterns": [],
        "insult_patterns": [],
        "hate_patterns": [],
        "defamation_patterns": [],
        "sexual_patterns": [],
        "obscene_score": 0.9,
        "slur_score": 0.95,
        "model": "",  # checker/models/<name>.npz; "" = word lists and patterns only
        "model_threshold": 0.5,  # artifacts are shifted so 0.5 is the threshold chosen on validation
        "model_ignore_lexicon": "mild",  # words the model may not count as evidence
        "model_ignore_identity": True,  # identity words never count as evidence (docs/models.md)
        "encoder": "",  # checker/models/<name>.onnx, its "conduct" head blended with `model`; "" = none
        # Name the words by deleting each one and scoring again (the encoder's own reasons; one
        # batched pass per finding, 8-12 ms for a tweet, docs/models.md) instead of the linear model's
        "encoder_explain": False,
    }

    def __init__(self, data: PolicyData, config: RuleConfig) -> None:
        super().__init__(data, config)
        lex = data.lexicons
        params = self.params

        def words_of(key: str) -> tuple[str, ...]:
            name = params[key]
            if name not in lex:
                raise ValueError(f"{key} names lexicons/{name}.txt, which does not exist")
            return lex[name]

        self.obscene = Lexicon(words_of("obscene_lexicon"))
        self.slurs = Lexicon(words_of("slur_lexicon"))
        insult_nouns = words_of("insult_lexicon")
        insult_adjs = words_of("insult_adjective_lexicon")
        subs = {
            "insult_noun": alternation(tuple(inflect(insult_nouns))),
            "insult": alternation(tuple(inflect(insult_nouns)) + insult_adjs),
            "slur": alternation(tuple(inflect(words_of("slur_lexicon")))),
            "profanity": alternation(tuple(inflect(words_of("obscene_lexicon")))),
            "group": alternation(words_of("group_lexicon")),
        }
        # One alternation per kind: a single pass over the text instead of one per pattern.
        self.patterns = [
            (one_regex(compile_patterns(params[key], subs, f"rules.conduct.{key}")), cat, score, reason)
            for key, cat, score, reason in PATTERN_KINDS
            if params[key]
        ]
        # The models (and numpy) are imported when a rule is built, not with the module: a
        # process that loads a policy only to route and answer (checks=False) never pays for them.
        from checker.neural import load_encoder, neutral_view
        from checker.textmodel import load_model
        from checker.textmodel import tokens as model_tokens

        self._neutral_view, self._model_tokens = neutral_view, model_tokens
        self.model = load_model(params["model"]) if params["model"] else None
        # Evidence must be concentrated: the top word must carry at least this much (chosen in
        # training with the threshold; a post that is only vaguely "tweet-like" does not fire).
        self.min_word = float(self.model.meta.get("min_word", 0.0)) if self.model else 0.0
        mild = lex.get(params["model_ignore_lexicon"], ()) if params["model_ignore_lexicon"] else ()
        ident = IDENTITY_TERMS if params["model_ignore_identity"] else frozenset()
        self.model_mask = ident | frozenset(w.lower() for w in mild)
        self.judgment_mask = self.model_mask
        self.encoder = load_encoder(params["encoder"]) if params["encoder"] else None
        if self.encoder is not None and "conduct" not in self.encoder.heads:
            raise ValueError(f"encoder {params['encoder']!r} has no 'conduct' head")

    def check(self, post: Post, ctx: Context) -> Iterable[Finding]:
        """Findings for obscene words, slurs and every phrase pattern."""
        folded = ctx.folded
        out: list[Finding] = []
        taken: list[tuple[int, int]] = []
        norm = NormString(folded, ctx.tokens)
        for pat, cat, score, reason in self.patterns:
            for m in pat.finditer(norm.text):
                span = norm.span(m.start(), m.end())
                if any(a < span[1] and span[0] < b for a, b in taken):
                    continue
                taken.append(span)
                out.append(self.finding(ctx, reason, score, span=span, category=cat))
        for lexicon, cat, score, what in (
            (self.slurs, "slur", self.params["slur_score"], "a slur"),
            (self.obscene, "obscenity", self.params["obscene_score"], "an obscene word"),
        ):
            for h in lexicon.find(ctx.tokens, folded.text):
                span = folded.span(h.start, h.end)
                if any(a < span[1] and span[0] < b for a, b in taken):
                    continue
                taken.append(span)
                how = " (disguised spelling)" if h.disguised else ""
                out.append(self.finding(ctx, f"{what}{how}", score, span=span, category=cat))
        if not out and (self.model is not None or self.encoder is not None):
            out.extend(self.model_finding(ctx))
        return out

    def model_score(self, folded: str) -> tuple[float, Score | None]:
        """(score, linear model's score) of folded text; 0.5 = the validated threshold."""
        s = self.model.score(folded, mask=self.model_mask, guard=True) if self.model is not None else None
        if self.encoder is None:
            assert s is not None
            return (s.prob if s.top and s.top[0][1] >= self.min_word else 0.0), s
        lin = s.prob if s is not None else None
        if lin is not None and self.encoder.combined("conduct", 1.0, lin) < self.params["model_threshold"]:
            # Even a certain encoder could not lift the blend over the threshold: skip its pass.
            return self.encoder.combined("conduct", 0.0, lin), s
        return self.encoder.combined("conduct", self.encoder.probs(folded)["conduct"], lin), s

    def model_finding(self, ctx: Context) -> list[Finding]:
        """A finding when the text models score the post above the threshold.

        Identity words never count as evidence: the linear model masks them, and for the encoder
        the post is scored again with each identity (and mild) word replaced by a neutral one;
        if that falls under the threshold, naming the group is what pushed it over.
        """
        folded = ctx.folded
        threshold = self.params["model_threshold"]
        prob, s = self.model_score(folded.text)
        if prob < threshold:
            return []
        if self.encoder is not None and self.params["model_ignore_identity"]:
            alt = self._neutral_view(folded.text, self.model_mask)
            if alt is not None and self.model_score(alt)[0] < threshold:
                return []
        words = {w.text for w in self._model_tokens(folded.text)}
        if words & THREAT_WORDS:
            cat = "threat"
        elif words & GROUP_TERMS:
            cat = "group-hostility"
        else:
            cat = "insult"
        reason = f"the language model rates this {prob:.2f} likely abusive"
        top = s.top if s is not None else ()
        if self.encoder is not None and self.params["encoder_explain"]:  # what the blended score rests on
            model = self.model
            linear = (lambda t: model.score(t, mask=self.model_mask, guard=True).prob) if model is not None else None
            top = self.encoder.drivers("conduct", folded.text, linear, skip=self.model_mask) or top
        if not top:
            return [self.finding(ctx, reason, prob, span=(0, len(folded.original)), category=cat)]
        span, drivers = drivers_text(folded, top)
        return [self.finding(ctx, f"{reason}; words that drove it: {drivers}", prob, span=span, category=cat)]


# Identity words that make a model-flagged post discriminatory (category only): "man" or "girl"
# alone does not name a group.
GROUP_TERMS = IDENTITY_TERMS - {"man", "woman", "boy", "girl", "male", "female", "white", "black"}

# Words that make a model-flagged post a threat rather than plain abuse (category only).
THREAT_WORDS = frozenset(
    "kill killing die dead death shoot shot stab hurt beat punch burn bomb gun knife murder hang "
    "choke strangle regret".split()
)
