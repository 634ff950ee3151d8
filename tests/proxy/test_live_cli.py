"""`postguard proxy` / `postguard pac` refuse bad input with exit 2 and the bad value named."""

from __future__ import annotations

import pytest

from postguard.cli import main as cli


@pytest.mark.parametrize("args,needle", [
    (["--listen", "localhost"], "'localhost'"),
    (["--listen", "127.0.0.1:99999"], "99999"),
    (["--policy", "/nonexistent/policy"], "/nonexistent/policy"),
    (["--set", "postguard_fail_mode=maybe"], "'maybe'"),
    (["--set", "stream_large_bodies=1m"], "stream_large_bodies"),
    (["--set", "no_such_option=1"], "no_such_option"),
    (["--set", "postguard_workers"], "NAME=VALUE"),
])
def test_proxy_rejects_bad_input(tmp_path, capsys, args, needle):
    code = cli(["proxy", "--listen", "127.0.0.1:0", "--confdir", str(tmp_path / "conf"),
                "--db", str(tmp_path / "log.sqlite"), *args])
    assert code == 2 and needle in capsys.readouterr().err


def test_pac_lists_social_domains_only(capsys):
    assert cli(["pac", "--proxy", "127.0.0.1:9999"]) == 0
    pac = capsys.readouterr().out
    assert '"facebook.com"' in pac and '"x.com"' in pac and "PROXY 127.0.0.1:9999" in pac
    assert "DIRECT" in pac and "; DIRECT" not in pac       # fails closed unless asked
    assert '"example.org"' not in pac and "ctreg14.org" not in pac
    assert cli(["pac", "--fallback-direct"]) == 0 and "PROXY 127.0.0.1:8080; DIRECT" in capsys.readouterr().out
