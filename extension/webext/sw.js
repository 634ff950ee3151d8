// postguard service worker: the only part that asks for decisions (transport.js: the agent
// through native messaging, a hand-paired local backend, or the district server).
// Content scripts cannot do it themselves (their fetch carries the page's Origin, which the
// backend and the server reject, and they cannot use native messaging).
"use strict";
importScripts("transport.js");
const T = self.PostguardTransport;

const DEFAULTS = {
  backendUrl: "http://127.0.0.1:8731",
  token: "",
  serverUrl: "",
  groupKey: "",
  mode: "warn",
  failMode: "pass",
  hints: true,
  checkTimeoutMs: 2500,
};
const POPUP_KEYS = ["backendUrl", "token", "hints"];  // what the popup may set on any install
const QUEUE_KEY = "pgQueue";
const QUEUE_MAX = 500;
let lastStatus = { ok: null, at: 0, via: null, problem: null, error: null, tried: [] };
let policyCache = null;

// Managed settings (pushed by the district) win over local ones. Reading managed storage can
// take seconds on Linux (no policy -> it waits on the policy service), so it is read once per
// worker start and again only when the district changes it.
// Test hook: an unpacked (development) install also honours every key of storage.local
// `pgConfig` (chrome.storage.managed cannot be set from a test); a packed or force-installed
// extension honours there only the popup's keys.
let managedCache = null;
let devInstall = null;
chrome.storage.onChanged.addListener((_changes, area) => { if (area === "managed") managedCache = null; });
async function config() {
  if (!managedCache) managedCache = chrome.storage.managed.get(null).catch(() => ({}));
  if (devInstall === null) devInstall = chrome.management.getSelf().then((s) => s.installType === "development", () => false);
  const managed = (await managedCache) || {};
  const { pgConfig = {} } = await chrome.storage.local.get("pgConfig");
  const local = (await devInstall) ? pgConfig : Object.fromEntries(Object.entries(pgConfig).filter(([k]) => POPUP_KEYS.includes(k)));
  return { ...DEFAULTS, ...local, ...managed, managedKeys: Object.keys(managed) };
}

async function call(cfg, path, body, timeoutMs) {
  try {
    const { data, via } = await T.route(cfg, path, body, timeoutMs || cfg.checkTimeoutMs);
    lastStatus = { ok: true, at: Date.now(), via, problem: null, error: null, tried: [] };
    return data;
  } catch (e) {
    // A 400/413/429 is an answer (our own bug, or a limit), not an outage.
    if (e.problem) lastStatus = { ok: false, at: Date.now(), via: null, problem: e.problem, error: e.message, tried: e.tried || [] };
    throw e;
  }
}

// A record waiting in the browser keeps nothing that could name a student: no text, no reason,
// no links, no target, the page's origin only. The log gets "not checked" with the site and time.
function redacted(e) {
  let origin = null;
  try { origin = e.url ? new URL(e.url).origin + "/" : null; } catch (_) { /* no url */ }
  const kept = `${(e.text || "").length} characters; the text is not kept in the browser while postguard is unreachable`;
  return {
    choice: e.choice, site: e.site, kind: e.kind, account: e.account, url: origin, text: "",
    request_id: e.request_id, client_time: e.client_time || new Date().toISOString(), queued: true, staff: e.staff,
    error: `${e.choice === "unchecked" ? "not checked when posted" : `${e.choice}, recorded while postguard was unreachable`} (${kept})`,
  };
}

async function queueEvents(events) {
  const { [QUEUE_KEY]: q = [] } = await chrome.storage.local.get(QUEUE_KEY);
  const next = q.concat(events.map(redacted)).slice(-QUEUE_MAX);
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
      await call(cfg, "/v1/events", { events: batch });
    } catch (e) {
      if (!e.problem && (e.status === 400 || e.status === 413)) {  // refused as such: retrying would block the queue forever
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

// The staff member: the browser profile's signed-in account, where it has one (a managed
// Chrome profile or a Chromebook user); the backend records it as source browser-profile.
let profileCache;
async function profileStaff() {
  if (profileCache === undefined) {
    try {
      const info = await chrome.identity.getProfileUserInfo({ accountStatus: "ANY" });
      profileCache = (info && info.email) || "";
    } catch (_) { profileCache = ""; }  // no identity API (Firefox) or no permission
  }
  return profileCache;
}

async function sendEvent(event) {
  const cfg = await config();
  const staff = await profileStaff();
  if (staff && !event.staff) event = { ...event, staff };
  try {
    await call(cfg, "/v1/events", event);
    flushQueue();
    return { ok: true, queued: false };
  } catch (e) {
    if (!e.problem && e.status === 400) return { ok: false, error: e.message, details: e.details };
    return { ok: true, queued: true, pending: await queueEvents([event]) };
  }
}

async function getPolicy(cfg, fresh = false) {
  if (!fresh && policyCache && Date.now() - policyCache.at < 5 * 60 * 1000) return policyCache.data;
  // POST, not GET: Chromium adds no Origin to an extension's GET, and the backend needs one.
  const data = await call(cfg, "/v1/policy", {});
  policyCache = { at: Date.now(), data };
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
        const verdict = await call(cfg, "/v1/check", msg.post, msg.post.hint ? 1500 : undefined);
        if (!msg.post.hint) flushQueue();
        return { ok: true, verdict, mode: cfg.mode };
      } catch (e) {
        return { ok: false, error: e.message, problem: e.problem || null, status: e.status || 0, failMode: cfg.failMode, mode: cfg.mode };
      }
    }
    case "event":
      return sendEvent(msg.event);
    case "status": {
      let policy = null;
      try { policy = await getPolicy(cfg, true); } catch (_) { /* lastStatus says why */ }
      const { [QUEUE_KEY]: q = [] } = await chrome.storage.local.get(QUEUE_KEY);
      return {
        ok: true, backend: lastStatus, queued: q.length, policy,
        config: { backendUrl: cfg.backendUrl, serverUrl: cfg.serverUrl, mode: cfg.mode, failMode: cfg.failMode,
                  hints: cfg.hints, tokenSet: Boolean(cfg.token), groupKeySet: Boolean(cfg.groupKey),
                  managedKeys: cfg.managedKeys, extensionId: chrome.runtime.id, nativeHost: T.NATIVE_HOST },
      };
    }
    case "flush":
      return { ok: true, pending: await flushQueue() };
    case "saveConfig": {  // from the popup, for keys the district did not manage
      const allowed = POPUP_KEYS;
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
