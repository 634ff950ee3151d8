// How the service worker reaches something that decides a post, in this order:
//   1. the agent on this computer, through native messaging (nothing to set up: the agent's
//      installer registers the host "org.postguard.agent" for this extension's id only);
//   2. the local backend over loopback HTTP, only when a token was set by hand (development,
//      `postguard backend` without an agent);
//   3. the district server (Chromebooks, computers without an agent): serverUrl + groupKey from
//      the managed settings, and the directory device id where managed ChromeOS gives one.
// A failure carries a `problem` the popup explains: not-paired, agent-down, server-unreachable,
// server-not-recording (it answered 5xx with its reason: its database or log cannot take records now).
"use strict";

const NATIVE_HOST = "org.postguard.agent";
const NATIVE_RETRY_MS = 30000;  // after "host not found", try the host again this much later
const SERVER_PATHS = { "/v1/check": "/api/ext/v1/check", "/v1/events": "/api/ext/v1/events", "/v1/policy": "/api/ext/v1/policy" };

class RouteError extends Error {
  constructor(problem, message, status = 0, details = undefined) {
    super(message);
    Object.assign(this, { problem, status, details });
  }
}

// ---- 1. native messaging
let nativePort = null;
let nativeSeq = 0;
const nativePending = new Map();
let nativeMissing = { until: 0, error: null };

function nativePortOpen() {
  if (nativePort) return nativePort;
  const port = chrome.runtime.connectNative(NATIVE_HOST);
  port.onMessage.addListener((m) => {
    const p = m && nativePending.get(m.id);
    if (p) { nativePending.delete(m.id); p.resolve(m); }
  });
  port.onDisconnect.addListener(() => {
    const why = (chrome.runtime.lastError && chrome.runtime.lastError.message) || "the native host exited";
    if (nativePort === port) nativePort = null;
    // Not registered, or registered without this extension's id: not paired, and no use retrying at once.
    if (/not found|forbidden/i.test(why)) nativeMissing = { until: Date.now() + NATIVE_RETRY_MS, error: why };
    for (const [id, p] of nativePending) { nativePending.delete(id); p.reject(new Error(why)); }
  });
  nativePort = port;
  return port;
}

async function viaNative(path, body, timeoutMs) {
  if (Date.now() < nativeMissing.until) {
    throw new RouteError("not-paired", `no postguard agent is registered with this browser (${nativeMissing.error})`);
  }
  const id = ++nativeSeq;
  let timer;
  const answer = new Promise((resolve, reject) => {
    nativePending.set(id, { resolve, reject });
    timer = setTimeout(() => { nativePending.delete(id); reject(new Error("timeout")); }, timeoutMs);
  });
  let m;
  try {
    nativePortOpen().postMessage({ id, path, body });
    m = await answer;
  } catch (e) {
    const msg = String(e.message || e);
    if (/not found|forbidden/i.test(msg)) throw new RouteError("not-paired", `no postguard agent is registered with this browser (${msg})`);
    if (msg === "timeout") throw new RouteError("agent-down", "the postguard agent did not answer in time");
    throw new RouteError("agent-down", `the postguard agent's native host stopped (${msg})`);
  } finally {
    clearTimeout(timer);
  }
  if (m.status === 0) throw new RouteError(m.problem || "agent-down", m.error || "the agent did not answer");
  return answered(m.status, m.data || {}, "agent");
}

// ---- 2. the local backend over HTTP (a hand-set token)
// ---- 3. the district server
async function fetchJson(url, headers, body, timeoutMs) {
  const ctrl = new AbortController();
  const timer = setTimeout(() => ctrl.abort(), timeoutMs);
  try {
    const r = await fetch(url, {
      method: "POST", headers: { "Content-Type": "application/json", ...headers }, body: JSON.stringify(body),
      signal: ctrl.signal, cache: "no-store", credentials: "omit",
    });
    return { status: r.status, data: await r.json().catch(() => ({})) };
  } catch (e) {
    return { status: 0, error: e.name === "AbortError" ? "did not answer in time" : String(e.message || e) };
  } finally {
    clearTimeout(timer);
  }
}

async function viaBackend(cfg, path, body, timeoutMs) {
  const base = cfg.backendUrl.replace(/\/+$/, "");
  const r = await fetchJson(base + path, { "X-Postguard-Token": cfg.token }, body, timeoutMs);
  if (r.status === 0) throw new RouteError("agent-down", `the postguard backend at ${base} is not answering (${r.error})`);
  if (r.status === 401 || r.status === 403) {
    throw new RouteError("not-paired", `the backend at ${base} refused this extension: ${r.data.error || r.status}`, r.status);
  }
  return answered(r.status, r.data, "backend");
}

let deviceIdCache;
async function directoryDeviceId() {
  if (deviceIdCache !== undefined) return deviceIdCache;
  const api = chrome.enterprise && chrome.enterprise.deviceAttributes;
  deviceIdCache = !api ? "" : await new Promise((r) => {
    try { api.getDirectoryDeviceId((id) => r((!chrome.runtime.lastError && id) || "")); } catch (_) { r(""); }
  });
  return deviceIdCache;
}

async function viaServer(cfg, path, body, timeoutMs) {
  const base = cfg.serverUrl.replace(/\/+$/, "");
  const headers = { Authorization: `Bearer ${cfg.groupKey}` };
  const device = await directoryDeviceId();
  if (device) headers["X-Postguard-Device"] = device;
  const r = await fetchJson(base + SERVER_PATHS[path], headers, body, timeoutMs);
  if (r.status >= 500 && r.data && r.data.error) {  // it answered, and said why it cannot take this now
    throw new RouteError("server-not-recording", `the district server ${base} answered ${r.status}: ${r.data.error}`, r.status);
  }
  if (r.status === 0 || r.status >= 500) {
    throw new RouteError("server-unreachable", `the district server ${base} is unreachable (${r.error || `answered ${r.status}`})`, r.status);
  }
  if (r.status === 401 || r.status === 403) {
    throw new RouteError("not-paired", `the district server refused this browser's group key: ${r.data.error || r.status}`, r.status);
  }
  return answered(r.status, r.data, "server");
}

function answered(status, data, via) {
  if (status >= 200 && status < 300) return { data, via };
  // 400/413/429: the answerer is there and said no to this request (not an outage).
  throw Object.assign(new RouteError(null, data.error || `answered ${status}`, status, data.details), { via });
}

// Ask each route in turn within one time budget; the last route's problem wins, except that
// "not-paired" from the native host only explains things when nothing else was configured.
async function route(cfg, path, body, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  const left = () => Math.max(1, deadline - Date.now());
  const tries = [(b) => viaNative(path, b, left())];
  if (cfg.token) tries.push((b) => viaBackend(cfg, path, b, left()));
  if (cfg.serverUrl && cfg.groupKey && SERVER_PATHS[path]) tries.push((b) => viaServer(cfg, path, b, left()));
  const failures = [];
  for (const attempt of tries) {
    try {
      return await attempt(body);
    } catch (e) {
      if (!(e instanceof RouteError) || e.problem === null) throw e;
      failures.push(e);
      if (Date.now() >= deadline) break;
    }
  }
  const agent = failures.find((f) => f.problem === "agent-down");
  const last = failures[failures.length - 1];
  const main = last.problem === "not-paired" && agent && failures.length > 1 ? agent : last;
  throw Object.assign(main, { tried: failures.map((f) => ({ problem: f.problem, error: f.message })) });
}

self.PostguardTransport = { route, RouteError, NATIVE_HOST };
