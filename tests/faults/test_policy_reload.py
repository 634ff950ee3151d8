"""A corrupt policy at reload: the live `postguard proxy` follows its --policy link; each broken
folder swapped in under it (invalid TOML, a truncated file, a missing file, bytes that are not
text) is refused loudly (an error naming the folder in the proxy's log) and the last good policy
stays in force (posts still decided, events still carry its digest); a good folder swapped in
afterwards is taken, so the watch outlived every refusal."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from faults_helpers import proxy
from test_db_faults import post, stored

from checker import load_policy
from checker.policy import DEFAULT_POLICY_DIR

PRIVACY = "Mason Brandt was suspended for three days after the fight."  # fictional student


def corrupt(folder: Path, how: str) -> None:
    rules = folder / "rules.toml"
    if how == "invalid-toml":
        rules.write_text(rules.read_text(encoding="utf-8") + "\n[rules.conduct\naction = \n", encoding="utf-8")
    elif how == "truncated":
        data = rules.read_bytes()
        rules.write_bytes(data[: len(data) // 2])
    elif how == "missing":
        rules.unlink()
    else:  # not text at all
        (folder / "social.toml").write_bytes(b"\xff\xfe\x00junk\x80" * 64)


def swap(link: Path, target: Path) -> None:
    tmp = link.with_name(link.name + ".new")
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(target)
    os.replace(tmp, link)  # atomic, as the agent swaps STATE/policy/current


def test_a_corrupt_policy_at_reload_is_refused_loudly_and_the_last_good_one_stays(live_with, tmp_path):
    good = tmp_path / "v1"
    shutil.copytree(DEFAULT_POLICY_DIR, good)
    link = tmp_path / "current"
    link.symlink_to(good)
    lv = live_with(policy=link, extra_sets=("postguard_log_passed=true",))
    db = str(lv.db)
    digest = load_policy(good).digest
    n = 0
    for how in ("invalid-toml", "truncated", "missing", "not-text"):
        bad = tmp_path / f"bad-{how}"
        shutil.copytree(good, bad)
        corrupt(bad, how)
        swap(link, bad)
        assert proxy.wait_for(lambda bad=bad: any("not taken" in x and str(bad) in x for x in lv.proxy.lines), 15), (
            how, "".join(lv.proxy.lines[-10:]))
        assert (post(lv, PRIVACY, n), post(lv, "Great game tonight, go team!", n + 1)) == (403, 200), how
        n += 2
        assert proxy.wait_for(lambda n=n: len(stored(db)) == n, 20)
        assert {e["policy_digest"] for e in stored(db)} == {digest}, how
    assert lv.proxy.proc.poll() is None
    new = tmp_path / "v2"
    shutil.copytree(good, new)
    with open(new / "rules.toml", "a", encoding="utf-8") as f:
        f.write("\n# v2: the district edited its policy\n")
    swap(link, new)
    new_digest = load_policy(new).digest
    assert new_digest != digest
    assert proxy.wait_for(lambda: any("in force from now on" in x for x in lv.proxy.lines), 20)
    assert post(lv, PRIVACY, n) == 403
    assert proxy.wait_for(lambda: len(stored(db)) == n + 1, 20)
    assert stored(db)[-1]["policy_digest"] == new_digest
