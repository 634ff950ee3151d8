// postguard service worker: the only part that talks to the local backend.
// Content scripts cannot fetch the backend themselves (their fetch carries the page's
// Origin, which the backend rejects); the worker's fetch carries chrome-extension://<id>.
"use strict";

const DEFAULTS = {
  backendUrl: "http://127.0.0.1:8731",
  token: "",
  mode: "warn",
  failMode: "pass",
  hints: true,
  checkTimeoutMs: 2500,
};
const QUEUE_KEY = "pgQueue";
const QUEUE_MAX = 500;
let lastStatus = { ok: null, at: 0, error: null };
let policyCache = null;

// Managed settings (pushed by the district) win over local ones (popup / tests).
// Reading managed storage can take seconds on Linux (no policy → it waits on the policy
// service), so it is read once per worker start and again only when the district changes it.
let managedCache = null;
chrome.storage.onChanged.addListener((_changes, area) => { if (area === "managed") managedCache = null; });
async function config() {
  if (!managedCache) managedCache = chrome.storage.managed.get(null).catch(() => ({}));
  const managed = (await managedCache) || {};
  const { pgConfig = {} } = await chrome.storage.local.get("pgConfig");
  return { ...DEFAULTS, ...pgConfig, ...managed, managedKeys: Object.keys(managed) };
}

async function call(cfg, method, path, body, timeoutMs) {
  const ctrl = new AbortController();
  const timer = setTimeout(() => ctrl.abort(), timeoutMs || cfg.checkTimeoutMs);
  try {
    const r = await fetch(cfg.backendUrl.replace(/\/+$/, "") + path, {
      method,
      headers: { "Content-Type": "application/json", "X-Postguard-Token": cfg.token || "" },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: ctrl.signal,
      cache: "no-store",
      credentials: "omit",
    });
    const data = await r.json().catch(() => ({}));
    if (!r.ok) {
      const err = new Error(data.error || `backend answered ${r.status}`);
      err.status = r.status;
      err.details = data.details;
      throw err;
    }
    lastStatus = { ok: true, at: Date.now(), error: null };
    return data;
  } catch (e) {
    const msg = e.name === "AbortError" ? "the backend did not answer in time" : String(e.message || e);
    // A 400 is our own bug, not an outage; anything else means "not usable right now".
    if (!e.status || e.status >= 401) lastStatus = { ok: false, at: Date.now(), error: msg };
    throw Object.assign(new Error(msg), { status: e.status, details: e.details });
  } finally {
    clearTimeout(timer);
  }
}

async function queueEvents(events) {
  const { [QUEUE_KEY]: q = [] } = await chrome.storage.local.get(QUEUE_KEY);
  const next = q.concat(events.map((e) => ({ ...e, queued: true }))).slice(-QUEUE_MAX);
  await chrome.storage.local.set({ [QUEUE_KEY]: next });
  return next.length;
}

let flushing = null;
// After a successful batch, send the next one (outside the `flushing` guard).
function flushQueueNext(left) {
  setTimeout(() => flushQueue(), 0);
  return left;
}
async function flushQueue() {
  if (flushing) return flushing;
  flushing = (async () => {
    const cfg = await config();
    const { [QUEUE_KEY]: q = [] } = await chrome.storage.local.get(QUEUE_KEY);
    if (!q.length) return 0;
    const batch = q.slice(0, 20);  // 20 texts of up to 100k characters stay under the body cap
    try {
      await call(cfg, "POST", "/v1/events", { events: batch });
    } catch (e) {
      if (e.status === 400 || e.status === 413) {  // refused as such: retrying would block the queue forever
        console.warn("postguard: dropping queued events the backend refused", e.details);
      } else {
        return q.length;
      }
    }
    const { [QUEUE_KEY]: now = [] } = await chrome.storage.local.get(QUEUE_KEY);
    const rest = now.slice(batch.length);
    await chrome.storage.local.set({ [QUEUE_KEY]: rest });
    return rest.length ? flushQueueNext(rest.length) : 0;
  })();
  try { return await flushing; } finally { flushing = null; }
}

async function sendEvent(event) {
  const cfg = await config();
  try {
    await call(cfg, "POST", "/v1/events", event);
    flushQueue();
    return { ok: true, queued: false };
  } catch (e) {
    if (e.status === 400) return { ok: false, error: e.message, details: e.details };
    return { ok: true, queued: true, pending: await queueEvents([event]) };
  }
}

async function getPolicy(cfg, fresh = false) {
  if (!fresh && policyCache && policyCache.url === cfg.backendUrl && Date.now() - policyCache.at < 5 * 60 * 1000) {
    return policyCache.data;
  }
  // POST, not GET: Chromium adds no Origin to an extension's GET, and the backend needs one.
  const data = await call(cfg, "POST", "/v1/policy", {});
  policyCache = { at: Date.now(), url: cfg.backendUrl, data };
  return data;
}

// The social hosts (the content scripts' match patterns): the only hosts we send overrides to.
function socialHost(host) {
  const pats = (chrome.runtime.getManifest().content_scripts || []).flatMap((c) => c.matches || []);
  return pats.some((p) => {
    const m = /^\*:\/\/(\*\.)?([^/]+)\/\*$/.exec(p);
    return m && (host === m[2] || (m[1] && host.endsWith("." + m[2])));
  });
}
const siteOf = (host) => host.split(".").slice(-2).join(".");

// "Post anyway" on a proxy warning: POST the token and reason to the proxy's override URL.
// Our fetch carries Origin chrome-extension://<id>, which the proxy can require
// (postguard_override_origins), so the site's own scripts cannot override by themselves.
async function proxyOverride(msg, senderUrl) {
  let u, from;
  try { u = new URL(String(msg.url)); from = new URL(String(senderUrl)); } catch (_) { return { ok: false, error: "bad override url" }; }
  // Only the proxy's path on a social host of the same site as the tab: never send a reason elsewhere.
  if (u.protocol !== "https:" || u.pathname !== "/__postguard/override" || u.search || u.username || u.password ||
      !socialHost(u.hostname) || siteOf(u.hostname) !== siteOf(from.hostname)) {
    return { ok: false, error: "refused override url" };
  }
  const ctrl = new AbortController();
  const timer = setTimeout(() => ctrl.abort(), 10000);
  try {
    const r = await fetch(u.href, {
      method: "POST", headers: { "Content-Type": "application/json" }, credentials: "omit", cache: "no-store",
      body: JSON.stringify({ token: String(msg.token || ""), justification: String(msg.justification || "") }),
      signal: ctrl.signal,
    });
    const data = await r.json().catch(() => ({}));
    const pg = (data && data.postguard) || data || {};
    return { ok: r.ok && pg.action === "overridden", status: r.status, error: pg.error || pg.override_error || null };
  } catch (e) {
    return { ok: false, error: String(e.message || e) };
  } finally {
    clearTimeout(timer);
  }
}

async function handle(msg, sender = {}) {
  if (msg && msg.type === "override") return proxyOverride(msg, sender.url || (sender.tab && sender.tab.url) || "");
  const cfg = await config();
  switch (msg && msg.type) {
    case "config":
      return { ok: true, config: { mode: cfg.mode, failMode: cfg.failMode, hints: cfg.hints } };
    case "check": {
      if (cfg.mode === "off") return { ok: true, off: true };
      try {
        const verdict = await call(cfg, "POST", "/v1/check", msg.post, msg.post.hint ? 1500 : undefined);
        if (!msg.post.hint) flushQueue();
        return { ok: true, verdict, mode: cfg.mode };
      } catch (e) {
        return { ok: false, error: e.message, status: e.status || 0, failMode: cfg.failMode, mode: cfg.mode };
      }
    }
    case "event":
      return sendEvent(msg.event);
    case "status": {
      let policy = null;
      try { policy = await getPolicy(cfg, true); lastStatus = { ok: true, at: Date.now(), error: null }; } catch (_) { /* shown as down */ }
      const { [QUEUE_KEY]: q = [] } = await chrome.storage.local.get(QUEUE_KEY);
      return {
        ok: true, backend: lastStatus, queued: q.length, policy,
        config: { backendUrl: cfg.backendUrl, mode: cfg.mode, failMode: cfg.failMode, hints: cfg.hints,
                  tokenSet: Boolean(cfg.token), managedKeys: cfg.managedKeys },
      };
    }
    case "flush":
      return { ok: true, pending: await flushQueue() };
    case "saveConfig": {  // from the popup, for keys the district did not manage
      const allowed = ["backendUrl", "token", "hints"];
      const { pgConfig = {} } = await chrome.storage.local.get("pgConfig");
      for (const k of allowed) if (k in msg.config && !cfg.managedKeys.includes(k)) pgConfig[k] = msg.config[k];
      await chrome.storage.local.set({ pgConfig });
      policyCache = null;
      return { ok: true };
    }
    default:
      return { ok: false, error: "unknown message" };
  }
}

chrome.runtime.onMessage.addListener((msg, sender, reply) => {
  // Only our own content scripts and popup talk to us (no externally_connectable).
  if (sender.id !== chrome.runtime.id) return false;
  handle(msg, sender).then(reply, (e) => reply({ ok: false, error: String(e) }));
  return true;
});

chrome.alarms.create("pg-flush", { periodInMinutes: 1 });
chrome.alarms.onAlarm.addListener((a) => { if (a.name === "pg-flush") flushQueue(); });
chrome.runtime.onStartup.addListener(() => flushQueue());
chrome.runtime.onInstalled.addListener(() => flushQueue());
self.postguard = { config, flushQueue, handle };  // handy from DevTools and tests
