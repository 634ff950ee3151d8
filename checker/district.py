"""Who the district is: its names, websites and registry of sponsored sites (district.toml)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True)
class SponsoredSite:
    """One entry of the registry of approved district-sponsored sites (D2)."""

    url: str
    host: str
    path: str
    ids: tuple[str, ...]
    owner: str
    approved_by: str
    approved_on: dt.date
    request_form: str
    kind: str = "page"
    closed: bool | None = None
    members_can_post: bool | None = None


@dataclass(frozen=True)
class District:
    """Who the district is (from district.toml)."""

    name: str
    aliases: tuple[str, ...]
    board: tuple[str, ...]
    schools: tuple[str, ...]
    short_names: tuple[str, ...]
    teams: tuple[str, ...]
    programs: tuple[str, ...]
    websites: tuple[str, ...]
    disclaimer_fix: str
    sponsored: tuple[SponsoredSite, ...]
    time_zone: str = "UTC"  # IANA name; the console shows times in it (exports stay UTC)

    @property
    def all_names(self) -> tuple[str, ...]:
        """Every name that always means the district, a school, program or team."""
        return (self.name, *self.aliases, *self.board, *self.schools, *self.teams, *self.programs)
