"""What a loaded policy folder holds, parsed and validated (built by `checker.policy.load_policy`).

Its own module so that the rules, the per-post context and the link classifier can name it
without importing the loader, which imports them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from checker.district import District
from checker.links import LinkClassifier
from checker.roster import Roster
from checker.settings import Settings


@dataclass
class PolicyData:
    """Everything a policy folder holds, parsed and validated."""

    path: Path
    slug: str
    district: District
    roster: Roster
    clauses: dict[str, str]
    notice: str
    settings: Settings
    lexicons: dict[str, tuple[str, ...]]
    social: dict[str, Any]
    logos: dict[str, bytes]
    links: LinkClassifier  # built from `district` and `social` before this is
    digest: str = ""
    # categories.toml: rule id -> {category: the phrase a finding uses}, most specific first
    categories: dict[str, dict[str, str]] = field(default_factory=dict)
