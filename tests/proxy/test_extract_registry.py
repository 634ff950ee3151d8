"""The site spec table: every built-in spec listed once, in order, and a district's own specs
from `postguard.sites` entry points (loaded, checked, placed after the built-in ones)."""

from __future__ import annotations

import importlib
import json
import pkgutil
import sys
import textwrap
from importlib.metadata import EntryPoint

import pytest

import proxy_addon.extract.sites as sites
from proxy_addon.extract import SiteSpecError, extract, is_social_host
from proxy_addon.extract.body import Req
from proxy_addon.extract.sites import plugins
from proxy_addon.extract.sites.spec import Spec

JSON = {"content-type": "application/json"}
TEXT = "Mason Brandt was suspended for three days after the fight."

DISTRICT_MODULE = '''
import re
from proxy_addon.extract.sites.spec import spec
from proxy_addon.extract.util import make


@spec("district-forum", "ctreg14.org", r"^/api/posts/?$")
def forum_post(req, m):
    return make(req, "district-forum", "post", [req.json.get("body")], target="forum")


@spec("district-anywhere", (), r"^/district/api/say$")
def anywhere(req, m):
    return make(req, "district-anywhere", "post", [req.json.get("say")])


# A second spec for facebook.com Graph-API paths: facebook-graph-api declines them off
# graph.facebook.com (returns None), so only then does this one run.
@spec("district-fb-feed", "facebook.com", r"^/(\\w+)/feed/?$")
def fb_feed(req, m):
    return make(req, "district-fb-feed", "post", ["seen by the district spec"])


BOTH = (forum_post, anywhere)
NOT_A_SPEC = 42
CLASH = spec("x-graphql", "x.com", r"^/district$")(lambda req, m: None)
'''


@pytest.fixture
def district(tmp_path, monkeypatch):
    """Install a fake `postguard.sites` entry point list; returns a setter taking (name, value)s."""
    (tmp_path / "district_sites.py").write_text(textwrap.dedent(DISTRICT_MODULE))
    monkeypatch.syspath_prepend(str(tmp_path))
    found: list[EntryPoint] = []

    def fake_entry_points(*, group: str) -> list[EntryPoint]:
        assert group == "postguard.sites"
        return list(found)

    monkeypatch.setattr(plugins, "entry_points", fake_entry_points)

    def install(*pairs: tuple[str, str]) -> None:
        found[:] = [EntryPoint(name, value, "postguard.sites") for name, value in pairs]
        sites.site_specs.cache_clear()
        sites.any_host_specs.cache_clear()

    yield install
    sites.site_specs.cache_clear()
    sites.any_host_specs.cache_clear()
    sys.modules.pop("district_sites", None)


def _names(specs) -> list[str]:
    return [s.name for s in specs]


def test_every_builtin_spec_is_listed_once_and_nothing_registers_on_import():
    defined = []
    for info in pkgutil.iter_modules(sites.__path__):
        mod = importlib.import_module(f"{sites.__name__}.{info.name}")
        defined += [v for v in vars(mod).values() if isinstance(v, Spec)]
    assert set(map(id, defined)) == set(map(id, sites.BUILTIN_SPECS))
    assert len(set(_names(sites.BUILTIN_SPECS))) == len(sites.BUILTIN_SPECS)
    assert isinstance(sites.SPECS, tuple)  # the old name: no longer a list modules append to
    assert sites.SPECS is sites.BUILTIN_SPECS
    assert _names(sites.ANY_HOST_SPECS) == ["mastodon-status", "bluesky"]


def test_no_entry_points_means_the_builtin_table(district):
    district()
    assert sites.site_specs() == sites.BUILTIN_SPECS


def test_a_district_spec_from_an_entry_point_is_matched(district, policy):
    district(("forum", "district_sites:forum_post"))
    assert _names(sites.site_specs()) == [*_names(sites.BUILTIN_SPECS), "district-forum"]
    req = Req("POST", "https://forum.ctreg14.org/api/posts", JSON, json.dumps({"body": TEXT}).encode())
    sub = sites.match_spec(req)
    assert (sub.spec, sub.kind, sub.texts, sub.target) == ("district-forum", "post", [TEXT], "forum")


def test_a_tuple_entry_point_and_an_any_host_district_spec_reach_extract(district, policy):
    district(("both", "district_sites:BOTH"))
    assert _names(sites.site_specs())[-2:] == ["district-forum", "district-anywhere"]
    assert is_social_host("school.example.net", policy, "/district/api/say")
    sub = extract("POST", "https://school.example.net/district/api/say", JSON,
                  json.dumps({"say": TEXT}).encode(), policy)
    assert (sub.spec, sub.texts) == ("district-anywhere", [TEXT])


def test_district_specs_come_after_the_builtin_ones(district, policy):
    district(("fb", "district_sites:fb_feed"))
    body = b"message=" + TEXT.replace(" ", "+").encode()
    form = {"content-type": "application/x-www-form-urlencoded"}
    graph = extract("POST", "https://graph.facebook.com/12345/feed", form, body, policy)
    assert graph.spec == "facebook-graph-api"  # the built-in spec decides first
    www = extract("POST", "https://www.facebook.com/12345/feed", form, body, policy)
    assert www.spec == "district-fb-feed"  # the built-in one declined: the district's runs


def test_entry_points_are_taken_in_name_order(district):
    district(("b", "district_sites:anywhere"), ("a", "district_sites:forum_post"))
    assert _names(sites.site_specs())[-2:] == ["district-forum", "district-anywhere"]


@pytest.mark.parametrize(("pairs", "message"), [
    ([("gone", "no_such_district_module:spec")],
     r"'gone' = 'no_such_district_module:spec' .*failed to load: ModuleNotFoundError"),
    ([("typo", "district_sites:no_such_name")], r"'typo' .*failed to load: AttributeError"),
    ([("num", "district_sites:NOT_A_SPEC")], r"'num' .*is int 42, not a Spec"),
    ([("clash", "district_sites:CLASH")], r"'clash' .*defines spec 'x-graphql', .*a built-in spec"),
    ([("one", "district_sites:forum_post"), ("two", "district_sites:BOTH")],
     r"'two' .*defines spec 'district-forum', .*a spec of site spec entry point 'one'"),
])
def test_a_broken_entry_point_is_a_clear_error(district, policy, pairs, message):
    district(*pairs)
    with pytest.raises(SiteSpecError, match=message):
        sites.site_specs()
    with pytest.raises(SiteSpecError, match=message):  # not cached: raised again, also by extract
        extract("POST", "https://www.facebook.com/api/graphql/", JSON, b"{}", policy)
