"""The extension and the proxy together: real Chromium with the unpacked extension, all traffic
through a real `postguard proxy` (overrides accepted only from the extension's Origin), x.com
served by a local HTTPS upstream behind it, and the extension's backend on a free port.

The page posts with fetch ("Go", "Post") or XMLHttpRequest ("Go (xhr)"). "Go" and "Go (xhr)" are
nothing the extension recognises, so only the proxy sees those posts; "Post" is X's, so the
extension warns first.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import pg_harness as H
import proxy_harness as PH

pytestmark = [pytest.mark.browser, pytest.mark.slow]
H.require_chromium()

URL = f"https://{PH.HOST}/home"
REASON = "Quoting the message I received so IT can see it"

# Record which panels appear (extension's own check or the proxy's warning) in the page.
WATCH_PANELS = """
window.__panels = [];
new MutationObserver((ms) => { for (const m of ms) for (const n of m.addedNodes)
  if (n.nodeName === "POSTGUARD-PANEL") window.__panels.push(n.getAttribute("data-source")); })
  .observe(document, {childList: true, subtree: true});
"""


def warn_text() -> str:
    """A post the policy warns about (conduct, P9), unique per test: the proxy keys overrides on content."""
    return f"You are a worthless idiot and I will hurt you ({PH.unique_word()})"


@pytest.fixture(scope="module")
def env(policy):
    """Proxy + upstream, the extension's backend, and Chromium with the extension, for the module."""
    from playwright.sync_api import sync_playwright

    from enforce import log_config
    from store import open_store

    tmp = Path(tempfile.mkdtemp(prefix="pg-withproxy-"))
    stack = PH.ProxyStack(tmp)
    log = H.TeeLog(open_store(str(tmp / "backend-log.sqlite"), log_config(policy)))
    servers = H.Servers(policy, log).start()
    try:
        with sync_playwright() as p:
            ctx = PH.launch_via_proxy(p, stack, tmp / "profile", H.EXT_DIR, H.home_env())
            ctx.add_init_script(WATCH_PANELS)
            try:
                yield {"ctx": ctx, "sw": H.service_worker(ctx), "log": log, "stack": stack,
                       "backend": f"http://127.0.0.1:{servers.backend_port}"}
            finally:
                ctx.close()
    finally:
        servers.stop()
        stack.stop()
        log.real.close()
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture
def page(env):
    """A fresh tab on the x.com page, the extension pointed at the live backend."""
    H.configure(env["sw"], env["backend"], hints=False)
    env["log"].events.clear()
    pg = env["ctx"].new_page()
    pg.goto(URL)
    pg.wait_for_function("() => document.readyState === 'complete'")
    yield pg
    pg.close()


def panel(page, source):
    return page.locator(f'postguard-panel[data-source="{source}"] [role="alertdialog"]')


def results(page, n=1):
    page.wait_for_function(f"() => window.__results.length >= {n}", timeout=30000)
    return page.evaluate("() => window.__results")


def poll(get, tries=200):
    """Call `get` until it returns something non-empty (writes land on other threads); its last value."""
    for _ in range(tries):
        got = get()
        if got:
            return got
        time.sleep(0.1)
    return get()


def proxy_events(env, pred):
    """The proxy's log events matching `pred`, once there are any."""
    return poll(lambda: [e for e in env["stack"].events() if pred(e)])


def backend_events(env, action):
    """The extension backend's log events with `action`, once there are any."""
    return poll(lambda: [e for e in env["log"].events if e.action == action])


def post_anyway(p, reason):
    p.locator('[data-act="anyway"]').click()
    p.locator("#pg-just").fill(reason)
    p.locator('[data-act="confirm"]').click()


def test_clean_post_goes_straight_through(env, page):
    text = f"Lovely sunset over the lake this evening ({PH.unique_word()})"
    page.fill("#box", text)
    page.click("#go")
    assert [r["status"] for r in results(page)] == [200]
    assert len(env["stack"].upstream.posts_with(text)) == 1
    assert page.evaluate("() => window.__panels") == []


def test_proxy_warning_post_anyway_overrides_and_resends_once(env, page):
    text = warn_text()
    page.fill("#box", text)
    page.click("#go")  # the extension does not recognise "Go": the proxy is the one that warns
    p = panel(page, "proxy")
    p.wait_for()
    assert p.get_attribute("data-action") == "warn"
    assert p.locator('li[data-clause="P9"]').count() >= 1
    assert "worthless idiot" in " ".join(p.locator("mark").all_inner_texts())
    assert env["stack"].upstream.posts_with(text) == []  # held by the proxy, nothing sent yet
    post_anyway(p, REASON)
    res = results(page)
    assert [r["status"] for r in res] == [200] and res[0]["body"] == {"data": {"create_tweet": {"ok": True}}}
    assert len(env["stack"].upstream.posts_with(text)) == 1
    over = proxy_events(env, lambda e: e["action"] == "overridden" and e.get("justification") == REASON)
    warned = [e for e in env["stack"].events() if e["action"] == "warned" and e.get("request_id") == over[0]["request_id"]]
    assert over and over[0]["source"] == "proxy" and len(warned) == 1
    assert page.evaluate("() => window.__panels") == ["proxy"]
    # the proxy logged the override; the extension does not log it a second time
    assert [e.action for e in env["log"].events if e.action == "overridden"] == []


def test_proxy_warning_edit_returns_the_403_and_sends_nothing(env, page):
    text = warn_text()
    page.fill("#box", text)
    page.click("#go")
    p = panel(page, "proxy")
    p.wait_for()
    p.locator('[data-act="edit"]').click()
    res = results(page)
    assert res[0]["status"] == 403
    pg = res[0]["body"]["postguard"]
    assert pg["action"] == "warn" and pg["override_url"] == f"https://{PH.HOST}/__postguard/override"
    assert env["stack"].upstream.posts_with(text) == []
    assert page.input_value("#box") == text  # the post stays in the composer
    edited = backend_events(env, "edited")  # page -> service worker -> backend, on their own time
    assert len(edited) == 1 and edited[0].source == "extension" and edited[0].request_id == pg["token"]
    assert not [e for e in env["stack"].events() if e["action"] == "overridden" and e.get("request_id") == pg["token"]]


def test_extension_warned_first_proxy_overridden_automatically(env, page):
    text = warn_text()
    page.fill("#box", text)
    page.click("#post")  # X's send button: the extension checks it first
    p = panel(page, "extension")
    p.wait_for()
    assert env["stack"].upstream.posts_with(text) == []
    post_anyway(p, REASON + " (extension)")
    res = results(page)
    assert [r["status"] for r in res] == [200]
    assert len(env["stack"].upstream.posts_with(text)) == 1
    assert page.evaluate("() => window.__panels") == ["extension"]  # no second panel
    over = proxy_events(env, lambda e: e["action"] == "overridden" and e.get("justification") == REASON + " (extension)")
    assert len(over) == 1
    ext = backend_events(env, "overridden")
    assert len(ext) == 1 and ext[0].justification == REASON + " (extension)"


def test_proxy_block_shows_edit_only_and_returns_the_403(env, page):
    text = f"Tyler Quinlan failed the chemistry final again ({PH.unique_word()})"
    page.fill("#box", text)
    page.click("#go")
    p = panel(page, "proxy")
    p.wait_for()
    assert p.get_attribute("data-action") == "block"
    assert p.locator('[data-act="anyway"]').count() == 0
    assert p.locator('li[data-clause="P5"]').count() == 1
    p.locator('[data-act="edit"]').click()
    res = results(page)
    assert res[0]["status"] == 403 and res[0]["body"]["postguard"]["action"] == "block"
    assert env["stack"].upstream.posts_with("chemistry final") == []


def test_page_script_cannot_override_without_the_extension(env, page):
    """The site's own script also reads the 403 JSON; an override it sends itself (the page's
    Origin, not the extension's) is refused, and the post never reaches the site."""
    text = warn_text()
    out = page.evaluate("""async ([path, text]) => {
      // A native XHR from a blank frame (the wrapper runs in the top frame only): the page
      // acting on its own, without the extension in the way.
      const f = document.body.appendChild(document.createElement("iframe"));
      const xhr = (method, url, body) => new Promise((res) => {
        const x = new f.contentWindow.XMLHttpRequest();
        x.open(method, url);
        x.setRequestHeader("content-type", "application/json");
        x.onloadend = () => res({status: x.status, body: x.responseText});
        x.send(body);
      });
      const body = JSON.stringify({variables: {tweet_text: text}});
      const warned = await xhr("POST", location.origin + path, body);
      const pg = JSON.parse(warned.body).postguard;
      const over = await xhr("POST", pg.override_url, JSON.stringify({token: pg.token, justification: "the page did it by itself"}));
      const again = await xhr("POST", location.origin + path, body);
      return {warned: warned.status, action: pg.action, over: over.status, overBody: over.body, again: again.status};
    }""", [PH.POST_PATH, text])
    assert (out["warned"], out["action"], out["over"], out["again"]) == (403, "warn", 403, 403)
    assert "extension" in json.loads(out["overBody"])["postguard"]["error"]
    assert env["stack"].upstream.posts_with(text) == []
    assert page.evaluate("() => window.__panels") == []  # the frame's XHR is not wrapped (see docs)


# ---- XMLHttpRequest: the same warnings when the site posts with XHR ----

UPSTREAM_BODY = {"data": {"create_tweet": {"ok": True}}}


def xhr_results(page, n=1):
    page.wait_for_function(f"() => window.__xhr.length >= {n}", timeout=30000)
    return page.evaluate("() => window.__xhr")


def shape(seen: list[str]) -> list[str]:
    """The event sequence with repeated LOADING (readyState 3) events collapsed: their count depends on chunking."""
    out: list[str] = []
    for s in seen:
        if not (out and s.startswith("rs3:") and out[-1] == s):
            out.append(s)
    return out


def native_shape(status: int) -> list[str]:
    """What a native async XHR's readystatechange/load/loadend listeners see for a response with `status`."""
    return ["rs1:0", f"rs2:{status}", f"rs3:{status}", f"rs4:{status}", f"load:{status}", f"loadend:{status}"]


def test_xhr_clean_post_goes_straight_through(env, page):
    text = f"Team photo day went well, thanks everyone ({PH.unique_word()})"
    page.fill("#box", text)
    page.click("#xgo")
    res = xhr_results(page)
    assert len(res) == 1 and res[0]["status"] == 200 and res[0]["body"] == UPSTREAM_BODY
    assert shape(res[0]["seen"]) == native_shape(200)
    assert len(env["stack"].upstream.posts_with(text)) == 1
    assert page.evaluate("() => window.__panels") == []


@pytest.mark.parametrize("response_type", ["", "json"])
def test_xhr_proxy_warning_post_anyway_resends_once(env, page, response_type):
    page.evaluate("(t) => { window.__xhrType = t; }", response_type)
    text = warn_text()
    page.fill("#box", text)
    page.click("#xgo")
    p = panel(page, "proxy")
    p.wait_for()
    assert p.get_attribute("data-action") == "warn"
    assert "worthless idiot" in " ".join(p.locator("mark").all_inner_texts())
    # while the person decides, the page's XHR looks in flight: no 403 event reached it
    assert page.evaluate("() => window.__seen") == ["rs1:0"]
    assert page.evaluate("() => window.__xhr") == []
    assert env["stack"].upstream.posts_with(text) == []
    reason = f"{REASON} (xhr, responseType {response_type!r})"  # unique in the module's proxy log
    post_anyway(p, reason)
    res = xhr_results(page)
    assert len(res) == 1
    r = res[0]
    assert (r["status"], r["statusText"], r["body"]) == (200, "OK", UPSTREAM_BODY)
    assert r["contentType"].startswith("application/json") and "x-postguard" not in r["headers"]
    assert shape(r["seen"]) == native_shape(200)  # the 403's events never reached the page
    assert len(env["stack"].upstream.posts_with(text)) == 1
    over = proxy_events(env, lambda e: e["action"] == "overridden" and e.get("justification") == reason)
    assert len(over) == 1
    assert page.evaluate("() => window.__panels") == ["proxy"]


def test_xhr_proxy_warning_edit_returns_the_403_and_sends_nothing(env, page):
    text = warn_text()
    page.fill("#box", text)
    page.click("#xgo")
    p = panel(page, "proxy")
    p.wait_for()
    assert page.evaluate("() => window.__seen") == ["rs1:0"]
    p.locator('[data-act="edit"]').click()
    res = xhr_results(page)
    r = res[0]
    assert r["status"] == 403 and "x-postguard: 1" in r["headers"]
    pg = r["body"]["postguard"]
    assert pg["action"] == "warn" and pg["override_url"] == f"https://{PH.HOST}/__postguard/override"
    assert shape(r["seen"]) == native_shape(403)  # delivered in order, once, after the choice
    assert env["stack"].upstream.posts_with(text) == []
    assert page.input_value("#box") == text
    edited = backend_events(env, "edited")
    assert len(edited) == 1 and edited[0].request_id == pg["token"]
    assert not [e for e in env["stack"].events() if e["action"] == "overridden" and e.get("request_id") == pg["token"]]


# What the wrapped XHR (top frame) and a native one (blank frame, no wrapper) see must be
# identical for everything the wrapper should leave alone: (method, path, body, async, responseType).
AS_NATIVE = [
    ("GET", "/home", None, True, ""),
    ("POST", PH.FORBIDDEN_PATH, '{"a": 1}', True, ""),                # the site's own 403
    ("POST", PH.FORBIDDEN_PATH + "?pg=header", '{"a": 1}', True, ""),  # X-Postguard: 1 but no warning: held, then the original
    ("PUT", PH.FORBIDDEN_PATH + "?pg=header", '{"a": 1}', True, "json"),
    ("POST", PH.POST_PATH, '{"variables": {"tweet_text": "Lovely sunset over the lake tonight"}}', True, "text"),
    ("POST", PH.POST_PATH, '{"variables": {"tweet_text": "Bus schedule for Friday is posted"}}', False, ""),  # sync
    ("GET", "/home", None, False, ""),
]

RUN_BOTH = """async ([method, path, body, isAsync, type]) => {
  const f = document.body.appendChild(document.createElement("iframe"));
  const run = (X) => new Promise((res) => {
    const x = new X(), seen = [];
    const note = (e) => seen.push([e.type, x.readyState, x.status, e.type === "progress" ? e.loaded > 0 : null].join(":"));
    x.onreadystatechange = note;
    for (const t of ["loadstart", "progress", "load", "error", "loadend"]) x.addEventListener(t, note);
    x.open(method, location.origin + path, isAsync);
    if (isAsync) x.responseType = type;
    if (body) x.setRequestHeader("content-type", "application/json");
    const done = () => res({seen, status: x.status, statusText: x.statusText, readyState: x.readyState,
      body: x.responseType === "json" ? JSON.stringify(x.response) : x.responseText,
      headers: x.getAllResponseHeaders().split("\\r\\n").filter((h) => !/^date:/i.test(h)).sort()});
    if (isAsync) x.addEventListener("loadend", done);
    x.send(body);
    if (!isAsync) done();
  });
  return {wrapped: await run(XMLHttpRequest), native: await run(f.contentWindow.XMLHttpRequest)};
}"""


@pytest.mark.parametrize("case", AS_NATIVE, ids=lambda c: f"{c[0]}-{c[1]}-{'async' if c[3] else 'sync'}-{c[4] or 'default'}")
def test_xhr_wrapper_behaves_as_native(env, page, case):
    got = page.evaluate(RUN_BOTH, list(case))
    w, n = got["wrapped"], got["native"]
    for r in (w, n):  # how often LOADING/progress repeat depends on chunking
        r["seen"] = [s for i, s in enumerate(r["seen"]) if i == 0 or s != r["seen"][i - 1]]
    assert w == n
    assert w["seen"][-1].startswith("loadend:4:") or not case[3]
    assert w["readyState"] == 4 and w["status"] in (200, 403)
    assert page.evaluate("() => window.__panels") == []
