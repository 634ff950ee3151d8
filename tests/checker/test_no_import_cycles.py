"""No package has an import cycle, counting imports under TYPE_CHECKING and inside functions."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _tool():  # tools/ is scripts, not a package
    spec = importlib.util.spec_from_file_location("import_cycles", ROOT / "tools" / "import_cycles.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("import_cycles", mod)
    spec.loader.exec_module(mod)
    return mod


PACKAGES = ["checker", "enforce", "proxy_addon", "extension", "store", "console", "server", "agent", "postguard", "train"]


def test_no_package_has_an_import_cycle():
    cycles = _tool().find_cycles(ROOT, PACKAGES)
    assert cycles == [], "\n".join(
        " -> ".join(comp) + "".join(f"\n    {e.source}:{e.line} -> {e.target} ({e.kind})" for e in es)
        for comp, es in cycles
    )


def test_the_tool_sees_a_cycle(tmp_path):
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from pkg.b import x\n")
    (pkg / "b.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg import a\nx = 1\n")
    (pkg / "c.py").write_text("def f():\n    from . import a\n")
    tool = _tool()
    [(comp, es)] = tool.find_cycles(tmp_path, ["pkg"])
    assert comp == ["pkg.a", "pkg.b"]
    assert {(e.source, e.target, e.kind) for e in es} == {("pkg.a", "pkg.b", "runtime"), ("pkg.b", "pkg.a", "typing")}
    assert tool.find_cycles(tmp_path, ["pkg"], kinds=("runtime",)) == []
