// postguard main-world script: wraps window.fetch and XMLHttpRequest (below) on the social
// hosts so that a warning the proxy answers to a script's post (HTTP 403 JSON with
// X-Postguard: 1) reaches the employee instead of ending as the site's generic error. It runs in the page's own JS world (MV3
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

  // The proxy's answer in a parsed 403 JSON body, if it is one: {action, findings, token, override_url, ...}.
  function answerFrom(data) {
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

  // Only a 403 with X-Postguard: 1 and a JSON type can be the proxy's answer (shared by both wrappers).
  const mayBeProxy = (status, header) =>
    status === 403 && header("x-postguard") === "1" && /json/i.test(header("content-type") || "");

  async function proxyAnswer(resp) {
    if (!mayBeProxy(resp.status, (h) => resp.headers.get(h))) return null;
    return answerFrom(await resp.clone().json());
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

  // ---- XMLHttpRequest -------------------------------------------------------------------
  // Same idea as fetch, but an XHR talks to the page through events on one object, so we
  // record-and-replay: for an async POST/PUT/PATCH whose response turns out (at readyState 2)
  // to be the proxy's 403, every event from then on is held back from the page's listeners
  // and recorded; the page meanwhile sees a request still in flight (readyState 1, status 0).
  // Once the person decided, the page's XHR replays either the recorded events of the original
  // 403, or those of ONE fresh native XHR sent with the same method/url/headers/body, its
  // getters (status, response, headers...) then reading from that XHR. Everything else —
  // GETs, other 403s, sync requests, upload events — never touches this code path.
  const X = window.XMLHttpRequest;
  const XP = X && X.prototype;
  if (!XP) return;
  const ET = EventTarget.prototype;
  const nAdd = ET.addEventListener, nRemove = ET.removeEventListener, nDispatch = ET.dispatchEvent;
  const RESPONSE = ["readyState", "status", "statusText", "response", "responseText", "responseXML", "responseURL"];
  const EVENTS = ["readystatechange", "loadstart", "progress", "abort", "error", "load", "timeout", "loadend"];
  // The native accessors, wherever on the prototype chain they live, taken before we patch.
  const natDesc = {};
  for (const name of [...RESPONSE, "responseType", "withCredentials", "timeout", ...EVENTS.map((t) => "on" + t)]) {
    for (let o = XP; o; o = Object.getPrototypeOf(o)) {
      const d = Object.getOwnPropertyDescriptor(o, name);
      if (d) { natDesc[name] = d; break; }
    }
  }
  const getter = (name) => natDesc[name] || null;
  const nat = {};
  for (const k of ["open", "send", "setRequestHeader", "abort", "overrideMimeType", "getResponseHeader", "getAllResponseHeaders"]) nat[k] = XP[k];
  const nGet = (x, k) => getter(k).get.call(x);
  const state = new WeakMap();     // page xhr -> {gen, phase, method, url, headers, body, mime, events, view}
  const wrappers = new WeakMap();  // page listener -> our wrapper (so removeEventListener finds it)
  const handlers = new WeakMap();  // page xhr -> {onload: fn, ...}
  let pending = null;              // an unopened native XHR: what "still in flight" looks like

  // phase: "pass" (native) | "sent" (a write, response not seen yet) | "hold" | "replay" | "done".
  // Decided lazily by whoever looks first once the headers are in.
  function phase(xhr) {
    const st = state.get(xhr);
    if (!st) return "pass";
    if (st.phase === "sent" && nGet(xhr, "readyState") >= 2) {
      st.phase = mayBeProxy(nGet(xhr, "status"), (h) => nat.getResponseHeader.call(xhr, h)) ? "hold" : "pass";
    }
    return st.phase;
  }

  // What the page's getters read: itself natively, a stand-in while held, or the resent XHR.
  function view(xhr) {
    const ph = phase(xhr);
    const st = state.get(xhr);
    if (ph === "hold") return { src: pending || (pending = new X()), readyState: 1 };
    if (ph === "replay" || ph === "done") return st.view;
    return null;
  }

  // A page listener, wrapped: trusted events of a held request do not reach it (we replay them).
  function gate(fn) {
    return function (ev) {
      if (ev && ev.isTrusted && phase(this) === "hold") return undefined;
      return typeof fn === "function" ? fn.call(this, ev) : fn.handleEvent(ev);
    };
  }
  function wrapperOf(fn) {
    if (!fn || (typeof fn !== "function" && typeof fn !== "object")) return fn;
    let w = wrappers.get(fn);
    if (!w) wrappers.set(fn, (w = gate(fn)));
    return w;
  }

  // Our own listener on each write XHR: records held events; at loadend, settles the request.
  function record(ev) {
    const st = state.get(this);
    if (!ev.isTrusted || !st || phase(this) !== "hold") return;
    st.events.push(snap(ev, nGet(this, "readyState")));
    if (ev.type === "loadend") settle(this, st, st.gen);
  }
  const snap = (ev, readyState) => ({ type: ev.type, readyState, loaded: ev.loaded, total: ev.total, lengthComputable: ev.lengthComputable });

  async function bodyJson(xhr) {
    const t = nGet(xhr, "responseType");
    const r = nGet(xhr, "response");
    if (t === "" || t === "text") return JSON.parse(r);
    if (t === "json") return r;
    if (t === "arraybuffer") return JSON.parse(new TextDecoder().decode(r));
    if (t === "blob") return JSON.parse(await r.text());
    return null;  // "document": not JSON
  }

  async function settle(xhr, st, gen) {
    let info = null, decision = "original", again = null;
    try { if (nGet(xhr, "status") === 403) info = answerFrom(await bodyJson(xhr)); } catch (_) { info = null; }
    if (info) {
      try { decision = await ask({ ...info, url: st.url.slice(0, 2048), method: st.method }); } catch (_) { /* keep the 403 */ }
    }
    if (state.get(xhr) !== st || st.gen !== gen || st.phase !== "hold") return;  // re-opened or aborted meanwhile
    if (decision === "resend") {
      try { again = await resend(xhr, st); } catch (_) { again = null; }
      if (state.get(xhr) !== st || st.gen !== gen || st.phase !== "hold") return;
    }
    if (again) replay(xhr, st, again.xhr, again.events);
    else replay(xhr, st, xhr, st.events);
  }

  // Once: a fresh native XHR like the page's. Resolves with its events when it got a response,
  // null when it failed (network error, timeout, abort) — then the page gets the original 403.
  function resend(xhr, st) {
    return new Promise((resolve) => {
      const x = new X();
      const events = [];
      nat.open.call(x, st.method, st.url, true, ...st.auth);
      for (const t of EVENTS) {  // after open(): its readystatechange (1) is one the page already had
        nAdd.call(x, t, (ev) => {
          events.push(snap(ev, nGet(x, "readyState")));
          if (t === "loadend") resolve(events.some((e) => e.type === "load") ? { xhr: x, events } : null);
        });
      }
      for (const [k, v] of st.headers) nat.setRequestHeader.call(x, k, v);
      if (st.mime !== null) nat.overrideMimeType.call(x, st.mime);
      x.withCredentials = nGet(xhr, "withCredentials");
      x.responseType = nGet(xhr, "responseType");
      x.timeout = nGet(xhr, "timeout");
      nat.send.call(x, st.body);
    });
  }

  // Deliver recorded events to the page's XHR in order, its getters showing `src` at each
  // event's readyState. Stops if a handler re-opens or aborts the request.
  function replay(xhr, st, src, events) {
    st.phase = "replay";
    const gen = st.gen;
    for (const e of events) {
      if (e.type === "loadstart") continue;  // the page already had it, at send()
      st.view = { src, readyState: e.readyState };
      const ev = e.type === "readystatechange" ? new Event(e.type)
        : new ProgressEvent(e.type, { loaded: e.loaded, total: e.total, lengthComputable: e.lengthComputable });
      nDispatch.call(xhr, ev);
      if (state.get(xhr) !== st || st.gen !== gen) return;
    }
    st.phase = "done";
    st.view = src === xhr ? null : { src, readyState: null };
  }

  // ---- the patched prototype ----
  const patches = {
    open(method, url, ...rest) {
      const r = nat.open.call(this, method, url, ...rest);  // native first: it throws on bad input
      const prev = state.get(this);
      const m = String(method).toUpperCase();
      const async = rest.length === 0 || Boolean(rest[0]);
      let abs = String(url);
      try { abs = new URL(abs, document.baseURI).href; } catch (_) { /* the browser accepted it; keep as is */ }
      if (WRITES.has(m) && async) {
        state.set(this, { gen: prev ? prev.gen + 1 : 1, phase: "open", method: String(method), url: abs,
          auth: rest.slice(1, 3), headers: [], body: null, mime: null, events: [], view: null, recording: prev && prev.recording });
      } else if (prev) {
        prev.gen += 1; prev.phase = "pass"; prev.view = null;
      }
      return r;
    },
    setRequestHeader(k, v) {
      nat.setRequestHeader.call(this, k, v);
      const st = state.get(this);
      if (st && st.phase === "open") st.headers.push([String(k), String(v)]);
    },
    overrideMimeType(mime) {
      nat.overrideMimeType.call(this, mime);
      const st = state.get(this);
      if (st && st.phase === "open") st.mime = String(mime);
    },
    send(body) {
      const st = state.get(this);
      if (st && st.phase === "open") {
        st.body = body === undefined ? null : body;
        st.phase = "sent";
        if (!st.recording) { st.recording = true; for (const t of EVENTS) nAdd.call(this, t, record); }
      }
      return nat.send.call(this, body);
    },
    abort() {
      const st = state.get(this);
      if (st) { st.gen += 1; st.phase = "pass"; st.view = null; }  // the page gave up: native from here
      return nat.abort.call(this);
    },
    getResponseHeader(h) { const v = view(this); return nat.getResponseHeader.call(v ? v.src : this, h); },
    getAllResponseHeaders() { const v = view(this); return nat.getAllResponseHeaders.call(v ? v.src : this); },
    addEventListener(type, fn, opts) { return nAdd.call(this, type, wrapperOf(fn), opts); },
    removeEventListener(type, fn, opts) { return nRemove.call(this, type, wrappers.get(fn) || fn, opts); },
  };
  for (const [k, fn] of Object.entries(patches)) {
    const orig = XP[k] || ET[k];
    Object.defineProperty(fn, "name", { value: k });
    fn.toString = () => orig.toString();  // look native to feature checks
    Object.defineProperty(XP, k, { value: fn, writable: true, configurable: true, enumerable: true });
  }
  // Response getters read through view(): the stand-in, or the resent XHR.
  for (const k of RESPONSE) {
    const d = getter(k);
    if (!d || !d.get) continue;
    Object.defineProperty(XP, k, { configurable: true, enumerable: true, get() {
      const v = view(this);
      if (!v) return d.get.call(this);
      return k === "readyState" && v.readyState !== null ? v.readyState : d.get.call(v.src);
    } });
  }
  // on<event> handlers are wrapped like listeners; the page reads back its own function.
  for (const t of EVENTS) {
    const d = getter("on" + t);
    if (!d || !d.set) continue;
    Object.defineProperty(XP, "on" + t, { configurable: true, enumerable: true,
      get() { const h = handlers.get(this); return h && ("on" + t) in h ? h["on" + t] : d.get.call(this); },
      set(fn) {
        let h = handlers.get(this);
        if (!h) handlers.set(this, (h = {}));
        h["on" + t] = typeof fn === "function" ? fn : null;
        d.set.call(this, typeof fn === "function" ? gate(fn) : null);
      } });
  }
})();
