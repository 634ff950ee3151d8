"""district.toml `time_zone`: the IANA zone the review console shows times in (exports stay UTC)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from checker import load_policy
from checker.errors import PolicyError

ROOT = Path(__file__).resolve().parents[2]


def with_district(tmp_path: Path, edit) -> Path:
    dst = tmp_path / "p"
    shutil.copytree(ROOT / "policies" / "region14", dst)
    f = dst / "district.toml"
    f.write_text(edit(f.read_text(encoding="utf-8")), encoding="utf-8")
    return dst


def test_region14_is_in_new_york() -> None:
    assert load_policy(checks=False).district.time_zone == "America/New_York"


def test_without_one_the_zone_is_utc(tmp_path: Path) -> None:
    dst = with_district(tmp_path, lambda t: "\n".join(x for x in t.splitlines() if not x.startswith("time_zone")))
    assert load_policy(dst, checks=False).district.time_zone == "UTC"


@pytest.mark.parametrize("bad", ["Mars/Olympus_Mons", "../../etc/passwd", ""])
def test_an_unknown_zone_is_a_clear_policy_error(tmp_path: Path, bad: str) -> None:
    dst = with_district(tmp_path, lambda t: t.replace('time_zone = "America/New_York"', f'time_zone = "{bad}"'))
    with pytest.raises(PolicyError, match="district.toml.*time_zone"):
        load_policy(dst, checks=False)
