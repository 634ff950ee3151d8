// postguard main-world script: wraps window.fetch on the social hosts so that a warning the
// proxy answers to a script's post (HTTP 403 JSON with X-Postguard: 1) reaches the employee
// instead of ending as the site's generic error. It runs in the page's own JS world (MV3
// "world": "MAIN"), so it holds no secret and trusts nothing the page could send: it only
// asks the isolated content script (window.postMessage + a per-page nonce) what to do, and
// on "resend" replays a clone of the request it kept, once. Any failure: the page gets the
// original response, exactly as if we were not here.
"use strict";

(() => {
  const MARK = "__postguardFetchWrapped";
  if (window[MARK] || typeof window.fetch !== "function") return;
  Object.defineProperty(window, MARK, { value: true });

  const nativeFetch = window.fetch;
  const CH = "postguard-proxy";
  const ACK_MS = 3000;                  // the content script answers "got it" at once, or is not there
  const DECIDE_MS = 15 * 60 * 1000;     // the person may keep the panel open; never hang forever
  const WRITES = new Set(["POST", "PUT", "PATCH"]);
  const nonce = (crypto.randomUUID && crypto.randomUUID()) || String(Math.random()).slice(2) + Date.now();
  const waiting = new Map();            // request id -> {ack, resolve}
  let seq = 0;

  // Introduce ourselves before any page script runs: the content script keeps the first nonce
  // it hears (a page script can only speak later, so it cannot take our place).
  const hello = () => window.postMessage({ channel: CH, dir: "to-ext", type: "hello", nonce }, location.origin);
  hello();

  window.addEventListener("message", (e) => {
    const d = e.data;
    if (e.source !== window || !d || d.channel !== CH || d.dir !== "to-page") return;
    if (d.type === "ready") { hello(); return; }  // the content script started after our first hello
    if (d.nonce !== nonce) return;
    const w = waiting.get(d.id);
    if (!w) return;
    if (d.type === "ack") w.ack();
    else if (d.type === "decision") { waiting.delete(d.id); w.resolve(d.decision === "resend" ? "resend" : "original"); }
  });

  // Ask the content script; "original" if it does not acknowledge in time or takes too long.
  function ask(info) {
    return new Promise((resolve) => {
      const id = `${nonce}:${++seq}`;
      let acked = false;
      const end = (v) => { waiting.delete(id); clearTimeout(t1); clearTimeout(t2); resolve(v); };
      const t1 = setTimeout(() => { if (!acked) end("original"); }, ACK_MS);
      const t2 = setTimeout(() => end("original"), DECIDE_MS);
      waiting.set(id, { ack: () => { acked = true; }, resolve: end });
      window.postMessage({ channel: CH, dir: "to-ext", type: "warning", nonce, id, info }, location.origin);
    });
  }

  // The proxy's answer, if this response is one: {action, findings, token, override_url, ...}.
  async function proxyAnswer(resp) {
    if (resp.status !== 403 || resp.headers.get("x-postguard") !== "1") return null;
    if (!/json/i.test(resp.headers.get("content-type") || "")) return null;
    const data = await resp.clone().json();
    const pg = data && typeof data === "object" ? (data.postguard || data) : null;
    if (!pg || (pg.action !== "warn" && pg.action !== "block")) return null;
    const findings = Array.isArray(pg.findings) ? pg.findings.slice(0, 50).map((f) => ({
      rule: String(f.rule || ""), clause: String(f.clause || ""), message: String(f.message || ""),
      reason: String(f.reason || ""), excerpt: String(f.excerpt || ""), fix: f.fix ? String(f.fix) : "",
      action: String(f.action || ""), span: Array.isArray(f.span) ? f.span.slice(0, 2) : null,
    })) : [];
    if (pg.action === "warn" && !(pg.token && pg.override_url)) return null;
    return {
      action: pg.action, findings, token: pg.action === "warn" ? String(pg.token) : "",
      override_url: pg.action === "warn" ? String(pg.override_url) : "",
      justification_min_chars: Number(pg.justification_min_chars) || 10,
      notice: String(pg.notice || "").slice(0, 2000),
    };
  }

  async function wrapped(input, init) {
    let req, spare;
    try {
      req = new Request(input, init);
      if (!WRITES.has(req.method)) return nativeFetch.call(window, input, init);
      spare = req.clone();  // before sending: the body can be read only once
    } catch (_) {
      return nativeFetch.call(window, input, init);  // let the browser raise its own error
    }
    const resp = await nativeFetch.call(window, req);
    let info = null;
    try { info = await proxyAnswer(resp); } catch (_) { info = null; }
    if (!info) return resp;
    let decision = "original";
    try { decision = await ask({ ...info, url: req.url.slice(0, 2048), method: req.method }); } catch (_) { /* keep the 403 */ }
    if (decision !== "resend") return resp;
    try {
      return await nativeFetch.call(window, spare);  // once: whatever comes back is the page's answer
    } catch (_) {
      return resp;
    }
  }

  // Look like the native function to the site's feature checks.
  Object.defineProperty(wrapped, "name", { value: "fetch" });
  wrapped.toString = () => nativeFetch.toString();
  window.fetch = wrapped;
})();
