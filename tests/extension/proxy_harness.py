"""A real `postguard proxy` in front of a local HTTPS upstream, for the extension + proxy tests.

Reuses the proxy tests' helpers (tests/proxy/conftest.py: the proxy's CA and an upstream
certificate it signs, the test-only host-mapping add-on, the subprocess wrapper), loaded by
path so neither test folder needs to be a package. The upstream stands in for x.com: it
serves a small page whose script posts with fetch or XMLHttpRequest, and records every POST it receives.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from aiohttp import web

from extension.backend import EXTENSION_ID

_spec = importlib.util.spec_from_file_location(
    "pg_proxy_conftest", Path(__file__).resolve().parents[1] / "proxy" / "conftest.py")
proxy_helpers = importlib.util.module_from_spec(_spec)
assert _spec.loader
_spec.loader.exec_module(proxy_helpers)

HOST = "x.com"
POST_PATH = "/i/api/graphql/q1w2e3/CreateTweet"  # the proxy's x-graphql extraction reads tweet_text
FORBIDDEN_PATH = "/i/api/forbidden"  # the upstream answers 403 itself here

# Send buttons over one textarea: "Go" and "Go (xhr)" are nothing the extension recognises as a
# send control (so only the proxy can catch those posts); "Post" with X's test id is (the extension
# warns first). "Go" and "Post" post with fetch, as X's own scripts do; "Go (xhr)" with XMLHttpRequest.
PAGE = f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Home / X</title></head><body>
<main><label for="box">Notes</label><textarea id="box"></textarea>
<button id="go" type="button">Go</button>
<button id="xgo" type="button">Go (xhr)</button>
<button id="post" type="button" data-testid="tweetButtonInline">Post</button></main>
<script>
window.__results = [];
async function send() {{
  const text = document.getElementById("box").value;
  try {{
    const r = await fetch("{POST_PATH}", {{method: "POST", headers: {{"content-type": "application/json"}},
      body: JSON.stringify({{variables: {{tweet_text: text}}, queryId: "q1w2e3"}})}});
    let body = null;
    try {{ body = await r.json(); }} catch (e) {{ body = null; }}
    window.__results.push({{status: r.status, body}});
  }} catch (e) {{
    window.__results.push({{status: 0, error: String(e)}});
  }}
}}
// The same post with XMLHttpRequest, as many sites still do: records, in order, every
// readystatechange/load/loadend the page's XHR sees (with readyState and status), and what
// its onload handler reads. responseType comes from window.__xhrType ("" unless a test sets it).
window.__xhr = [];
window.__seen = [];
function sendXhr() {{
  const text = document.getElementById("box").value;
  const x = new XMLHttpRequest();
  const seen = window.__seen = [];
  const out = {{}};
  x.onreadystatechange = function () {{ seen.push(`rs${{this.readyState}}:${{x.status}}`); }};
  x.open("POST", "{POST_PATH}");
  x.setRequestHeader("content-type", "application/json");
  x.responseType = window.__xhrType || "";
  x.addEventListener("load", (e) => seen.push(`${{e.type}}:${{x.status}}`));
  x.onload = () => {{
    out.status = x.status; out.statusText = x.statusText;
    out.body = x.responseType === "json" ? x.response : JSON.parse(x.responseText);
    out.headers = x.getAllResponseHeaders().toLowerCase();
    out.contentType = x.getResponseHeader("content-type");
  }};
  x.addEventListener("loadend", () => {{ seen.push(`loadend:${{x.status}}`); window.__xhr.push({{...out, seen: seen.slice()}}); }});
  x.send(JSON.stringify({{variables: {{tweet_text: text}}, queryId: "q1w2e3"}}));
}}
document.getElementById("xgo").addEventListener("click", sendXhr);
document.getElementById("go").addEventListener("click", send);
document.getElementById("post").addEventListener("click", send);
</script></body></html>"""


class Upstream(proxy_helpers.ThreadedHttps):
    """The local HTTPS server behind the proxy: serves PAGE, records POST bodies."""

    def __init__(self, cert: Path, key: Path) -> None:
        self.received: list[tuple[str, bytes]] = []  # (path, body)

        async def handle(request: web.Request) -> web.StreamResponse:
            body = await request.read()
            if request.method == "GET":
                return web.Response(text=PAGE, content_type="text/html", headers={"Cache-Control": "no-store"})
            self.received.append((request.path, body))
            if request.path == FORBIDDEN_PATH:  # the site's own 403s (not the proxy's), for the XHR table
                pg = request.query.get("pg")
                if pg == "header":   # X-Postguard: 1 and JSON, but no postguard warn/block in it
                    return web.json_response({"postguard": {"action": "log"}}, status=403, headers={"X-Postguard": "1"})
                return web.json_response({"error": "not allowed"}, status=403)
            return web.json_response({"data": {"create_tweet": {"ok": True}}})

        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", handle)
        self.serve(app, cert, key)

    def posts_with(self, needle: str) -> list[bytes]:
        """POST bodies to the send endpoint that contain `needle`."""
        return [b for p, b in self.received if p == POST_PATH and needle.encode() in b]


class ProxyStack(proxy_helpers.Live):
    """Upstream + `postguard proxy` (overrides accepted only from the extension's Origin)."""

    def __init__(self, tmp: Path) -> None:
        super().__init__(tmp, [HOST], upstream=Upstream,
                         extra_sets=(f"postguard_override_origins=chrome-extension://{EXTENSION_ID}",))


def launch_via_proxy(playwright: Any, stack: ProxyStack, profile: Path, ext_dir: Path, env: dict[str, str]) -> Any:
    """Chromium with the unpacked extension, all traffic through the proxy, its CA trusted by key hash.

    The browser resolves no names itself (only 127.0.0.1, where the extension's backend is);
    no certificate error is ignored other than for the proxy's own CA.
    """
    ext = str(ext_dir)
    return playwright.chromium.launch_persistent_context(
        str(profile), executable_path="/usr/bin/chromium", headless=True, env=env,
        args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
              "--disable-component-update", "--no-first-run", "--disable-sync",
              f"--proxy-server=http://127.0.0.1:{stack.port}",
              f"--ignore-certificate-errors-spki-list={stack.spki()}",
              "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
              f"--disable-extensions-except={ext}", f"--load-extension={ext}"],
    )


def unique_word() -> str:
    """A made-up word, different each call, to make a post unique (the proxy keys overrides on
    content). Letters only: a hex code in a post reads to the judgment model as a student id or a
    score about one time in ten, and the tests here are about the proxy, not that."""
    import uuid

    return uuid.uuid4().hex[:10].translate(str.maketrans("0123456789abcdef", "aeioulmnrstaeiou"))
