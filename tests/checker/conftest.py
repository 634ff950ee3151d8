"""Fixtures for checker tests: the default policy, loaded once."""

from __future__ import annotations

import pytest

from checker import Policy, Post, Verdict, check, load_policy


@pytest.fixture(scope="session")
def policy() -> Policy:
    """The Region 14 policy."""
    return load_policy()


@pytest.fixture(scope="session")
def run(policy: Policy):
    """check() with keyword shortcuts: run(text, account="personal", **post_fields)."""

    def _run(text: str, account: str | None = "personal", **kw) -> Verdict:
        return check(Post(text=text, account=account, **kw), policy)

    return _run


SPONSORED_PAGE = "https://www.facebook.com/NonnewaugAthletics"
