"""Findings in plain words for the warning panel: what was seen, why it matters, what to do."""

from __future__ import annotations

from typing import Any

from checker import Policy, Verdict

# Plain words for the built-in rules, written to a colleague, not a suspect. `{what}` is the matched
# text. A rule of the loaded policy with no sentence here (a district's own) is explained by its
# message in the policy's rules.toml.
_PLAIN: dict[str, str] = {
    "conduct": "The words “{what}” could read as harassing, offensive or threatening.",
    "student-privacy": "This shares confidential information about a student (“{what}”).",
    "directory-opt-out": "This names a student whose family asked the district not to share their information (“{what}”).",
    "prohibited-purpose": "District-sponsored pages cannot be used for campaigning, selling, fundraising for private gain or religious messages (“{what}”).",
    "misrepresentation": "This reads as a personal opinion posted on a district page, where it would look like the district's view (“{what}”).",
    "personal-link": "District-sponsored pages must not link to a personal page or profile ({what}).",
    "district-link": "Personal accounts should not link to district or school sites ({what}).",
    "missing-disclaimer": "Your post mentions {what}, so Board policy asks you to say the views are your own.",
    "district-logo": "An image looks like a district logo ({what}); personal posts may not use district logos.",
    "student-connection": "This would connect your personal account with a student, a parent or a young alumnus.",
    "unapproved-site": "This page or group is not in the district's list of approved sites ({what}).",
}


def _what(f: dict[str, Any]) -> str:
    return f.get("excerpt") or f.get("link") or f.get("image") or "this"


def _explanation(f: dict[str, Any], messages: dict[str, str]) -> str:
    template = _PLAIN.get(f["rule"])
    if template is None:
        return messages.get(f["rule"]) or f"{_what(f)} may break the Board policy."
    return template.format(what=_what(f))


def explain(verdict: Verdict, policy: Policy, text: str) -> dict[str, Any]:
    """The verdict as JSON for the extension, each finding with plain words and its clause text."""
    out = verdict.to_dict()
    clauses = policy.data.clauses
    messages = {rule.id: rule.config.message for rule in policy.rules}  # what each of its rules says
    for f in out["findings"]:
        f["explanation"] = _explanation(f, messages)
        f["clause_text"] = clauses.get(f["clause"], "")
        f["overridable"] = f["action"] != "block"
        span = f.get("span")
        # The checker cleans the text before matching; re-anchor the span on the text the
        # browser sent so the highlight lands on the right characters.
        if span and f.get("excerpt") and text[span[0]:span[1]] != f["excerpt"]:
            at = text.find(f["excerpt"])
            f["span"] = [at, at + len(f["excerpt"])] if at >= 0 else None
    out["highlights"] = sorted({tuple(f["span"]) for f in out["findings"] if f.get("span")})
    out["highlights"] = [list(h) for h in out["highlights"]]
    return out
