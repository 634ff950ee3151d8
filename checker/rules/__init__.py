"""Every rule the checker knows: the built-in ones, named once in BUILTIN_RULES, and a district's
own rules, each a `checker.rules.Rule` subclass named by an entry point in the group
`postguard.rules` (policies/README.md). Importing a module registers nothing.
"""

from __future__ import annotations

from importlib.metadata import entry_points

from checker.errors import PolicyError
from checker.rule import Rule, RuleConfig
from checker.rules.conduct import Conduct
from checker.rules.directory_opt_out import DirectoryOptOut
from checker.rules.district_logo import DistrictLogo
from checker.rules.links import DistrictLink, PersonalLink
from checker.rules.misrepresentation import Misrepresentation
from checker.rules.missing_disclaimer import MissingDisclaimer
from checker.rules.prohibited_purpose import ProhibitedPurpose
from checker.rules.student_connection import StudentConnection
from checker.rules.student_privacy import StudentPrivacy
from checker.rules.unapproved_site import UnapprovedSite

__all__ = ["BUILTIN_RULES", "ENTRY_POINT_GROUP", "Rule", "RuleConfig", "rule_classes"]

BUILTIN_RULES: tuple[type[Rule], ...] = (
    Conduct,
    DirectoryOptOut,
    DistrictLink,
    DistrictLogo,
    Misrepresentation,
    MissingDisclaimer,
    PersonalLink,
    ProhibitedPurpose,
    StudentConnection,
    StudentPrivacy,
    UnapprovedSite,
)

ENTRY_POINT_GROUP = "postguard.rules"


def rule_classes() -> dict[str, type[Rule]]:
    """Every rule class by id: BUILTIN_RULES, then each entry point in `postguard.rules`.

    An entry point that cannot be loaded, is not a Rule subclass, or takes an id already taken
    is a PolicyError naming it.
    """
    out: dict[str, type[Rule]] = {}
    for cls in BUILTIN_RULES:
        if cls.id in out:
            raise PolicyError(f"checker.rules: two built-in rules claim the id {cls.id!r}")
        out[cls.id] = cls
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        where = f"entry point {ep.name} = {ep.value!r} (group {ENTRY_POINT_GROUP})"
        try:
            obj = ep.load()
        except Exception as e:  # anything its import raises: say which entry point
            raise PolicyError(f"{where}: cannot be loaded: {type(e).__name__}: {e}") from e
        if not (isinstance(obj, type) and issubclass(obj, Rule)):
            raise PolicyError(f"{where}: must name a subclass of checker.rules.Rule (got {obj!r})")
        rid = getattr(obj, "id", None)
        if not isinstance(rid, str) or not rid.strip():
            raise PolicyError(f"{where}: {obj.__qualname__}.id must be a non-empty string (got {rid!r})")
        if out.get(rid, obj) is not obj:
            taken = out[rid]
            owner = "a built-in rule" if taken in BUILTIN_RULES else f"{taken.__module__}.{taken.__qualname__}"
            raise PolicyError(f"{where}: the rule id {rid!r} is already taken by {owner}")
        out[rid] = obj
    return out
