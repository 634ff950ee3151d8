"""Policy folders for the policy-update tests: the shipped policy, the same with one more obscene
word, and a link swapped between them the way agent/policy_dir.py swaps STATE/policy/current."""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from checker import DEFAULT_POLICY_DIR

TWEETS = "https://api.twitter.com/2/tweets"
JSON_POST = {"content-type": "application/json", "sec-fetch-mode": "cors"}
NEW_WORD = "zorblat"  # a made-up word, obscene only in the tests' second policy
FLAGGED_TEXT = f"What a {NEW_WORD} of a week, see you all at the bake sale"


def with_new_word(dest: Path, *more: str) -> Path:
    """A copy of the shipped policy with NEW_WORD (and `more`) among its obscene words."""
    shutil.copytree(DEFAULT_POLICY_DIR, dest)
    with open(dest / "lexicons" / "profanity.txt", "a", encoding="utf-8") as f:
        f.write("".join(f"\n{w}" for w in (NEW_WORD, *more)) + "\n")
    return dest


def broken_copy(src: Path, dest: Path) -> Path:
    """A copy of `src` whose rules.toml does not parse."""
    shutil.copytree(src, dest)
    (dest / "rules.toml").write_text("this is [ not toml", encoding="utf-8")
    return dest


def versions(tmp: Path) -> tuple[Path, Path, Path]:
    """v1 (the shipped policy), v2 (v1 + NEW_WORD), and the link `current` -> v1."""
    tmp.mkdir(parents=True, exist_ok=True)
    v1 = tmp / "v1"
    shutil.copytree(DEFAULT_POLICY_DIR, v1)
    v2 = with_new_word(tmp / "v2")
    current = tmp / "current"
    current.symlink_to(v1, target_is_directory=True)
    return v1, v2, current


def point(link: Path, target: Path) -> None:
    """Replace the link atomically (a new link renamed over the old)."""
    tmp = link.with_name(".current.new")
    tmp.symlink_to(target, target_is_directory=True)
    os.replace(tmp, link)


def helpers(folder: str, name: str) -> ModuleType:
    """A helper module of another test folder (tests/FOLDER/NAME.py), loaded by path, since tests/
    is never on sys.path: e.g. tests/proxy/conftest.py (Live, Upstream, https_via) and
    tests/agent/ca_helpers.py (Forwarder): one copy of them for every folder."""
    spec = importlib.util.spec_from_file_location(f"pg_{folder}_{name}", Path(__file__).parents[1] / folder / f"{name}.py")
    assert spec and spec.loader
    if spec.name in sys.modules:
        return sys.modules[spec.name]
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # its dataclasses look their module up
    spec.loader.exec_module(mod)
    return mod


def proxy_harness() -> ModuleType:
    """tests/proxy/conftest.py's live-proxy helpers."""
    return helpers("proxy", "conftest")


def tweet(harness: ModuleType, port: int, ca: Path, text: str) -> Any:
    """POST a tweet through the proxy on `port`, trusting `ca`: the HTTP status."""
    import json

    return harness.https_via(port, ca, "POST", TWEETS, json.dumps({"text": text}).encode(), JSON_POST)[0]
