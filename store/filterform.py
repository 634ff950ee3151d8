"""What the event list's and the review queue's filters share: built from a query string,
dates checked, the ones set."""

from __future__ import annotations

from datetime import date
from typing import Any, Self


class FilterForm:
    """A dataclass of text filters (empty = any) with `date_from` / `date_to` (YYYY-MM-DD)."""

    date_from: str
    date_to: str

    @classmethod
    def from_mapping(cls, m: Any) -> Self:
        """Build from a query string / form / argparse dict, ignoring unknown keys."""
        names = getattr(cls, "__dataclass_fields__")  # noqa: B009 (a dataclass; typed as this mixin)
        return cls(**{n: str(m.get(n) or "").strip() for n in names})

    def check(self, choices: tuple[tuple[str, tuple[str, ...]], ...]) -> None:
        """ValueError for a date that is not one, or a value outside its field's choices."""
        for name in ("date_from", "date_to"):
            v = getattr(self, name)
            if v:
                try:
                    date.fromisoformat(v)
                except ValueError:
                    raise ValueError(f"{name}: expected YYYY-MM-DD, got {v!r}") from None
        for name, allowed in choices:
            v = getattr(self, name)
            if v and v not in allowed:
                raise ValueError(f"{name}: one of {', '.join(a for a in allowed if a)}")

    def active(self) -> dict[str, str]:
        """The filters that are set."""
        return {k: v for k, v in vars(self).items() if v}
