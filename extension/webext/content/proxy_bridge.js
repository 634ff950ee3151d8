// postguard, isolated world: answers the main-world fetch wrapper (mainworld.js) when the
// proxy warned about or blocked a script's post. It shows the panel with the proxy's
// findings, or — when the person already chose "Post anyway" for this text in the
// extension's own panel a moment ago — overrides at once with that reason. The override
// itself is POSTed by the service worker (its request carries the extension's Origin, which
// the proxy can require); nothing secret ever crosses window.postMessage.
"use strict";

(() => {
  if (globalThis.PostguardApprovals) return;
  const P = globalThis.PostguardPanel;
  const CH = "postguard-proxy";
  const APPROVAL_MS = 2 * 60 * 1000;   // "the last minutes": the replayed submit reaches the proxy well within this
  let pageNonce = null;                // the first nonce heard: mainworld.js speaks before any page script
  let queue = Promise.resolve();       // one panel at a time
  const approvals = [];                // {text, justification, at, host}: "Post anyway" chosen in our own panel

  const send = (msg) => new Promise((resolve) => {
    try {
      chrome.runtime.sendMessage(msg, (r) => resolve(chrome.runtime.lastError ? { ok: false, error: chrome.runtime.lastError.message } : r));
    } catch (e) { resolve({ ok: false, error: String(e) }); }
  });

  // Called by content.js when the person chooses "Post anyway" (with a reason) in our panel.
  function add(text, justification) {
    approvals.push({ text: String(text || ""), justification, at: Date.now(), host: location.hostname });
    while (approvals.length > 20) approvals.shift();
  }

  const norm = (s) => String(s || "").replace(/\s+/g, " ").trim().toLowerCase();

  // The approval covering this warning: same host, recent, and every excerpt the proxy quotes is
  // in the approved text. Single use: taken out of the list.
  function take(findings) {
    const now = Date.now();
    for (let i = approvals.length - 1; i >= 0; i--) {
      const a = approvals[i];
      if (now - a.at > APPROVAL_MS || a.host !== location.hostname) { approvals.splice(i, 1); continue; }
      const t = norm(a.text);
      const quoted = findings.map((f) => norm(f.excerpt)).filter(Boolean);
      if (t && (quoted.length ? quoted.every((q) => t.includes(q)) : false)) {
        approvals.splice(i, 1);
        return a;
      }
    }
    return null;
  }

  // The editor last focused: a click on the site's own send button takes the focus from it.
  let lastEditor = null;
  const editorOf = (el) => (el && globalThis.PostguardSites ? globalThis.PostguardSites.editorRoot(el) : null);
  document.addEventListener("focusin", (e) => { lastEditor = editorOf(e.target) || lastEditor; }, { capture: true, passive: true });

  // The text to show in the panel: the composer's (the focused editor, else the last one), if it
  // holds every excerpt; else the excerpts.
  function panelText(findings) {
    const quoted = findings.map((f) => f.excerpt).filter(Boolean);
    const ed = editorOf(document.activeElement) || (lastEditor && lastEditor.isConnected ? lastEditor : null);
    const own = ed ? globalThis.PostguardSites.readText(ed) : "";
    if (own && quoted.every((q) => own.includes(q))) return own;
    return quoted.join(" … ") || "(the proxy did not quote the post)";
  }

  // [start, end) in UTF-16 units as code-point offsets, the panel's unit (as the backend's).
  const codePoints = (text, a, b) => [Array.from(text.slice(0, a)).length, Array.from(text.slice(0, b)).length];

  // The proxy's findings in the shape the panel knows (spans recomputed on the text shown).
  function verdictFor(info, text) {
    return {
      action: info.action,
      findings: info.findings.map((f) => {
        const spans = [];  // every place the quoted words stand in the text
        for (let at = f.excerpt ? text.indexOf(f.excerpt) : -1; at >= 0 && spans.length < 50; at = text.indexOf(f.excerpt, at + f.excerpt.length)) {
          spans.push(codePoints(text, at, at + f.excerpt.length));
        }
        return {
          ...f, explanation: f.message, clause_text: f.reason || f.message, fix_text: null,
          span: spans[0] || null, spans,
          overridable: info.action === "warn" && f.action !== "block",
        };
      }),
    };
  }

  async function override(info, justification) {
    const r = await send({ type: "override", url: info.override_url, token: info.token, justification, pageHost: location.hostname });
    return Boolean(r && r.ok);
  }

  async function decide(info) {
    if (info.action === "warn") {
      const approved = take(info.findings);
      if (approved) {
        // Already decided in our panel: no second panel. The proxy logs the override itself.
        if (await override(info, approved.justification)) return "resend";
        P.toast("postguard could not confirm your earlier \"Post anyway\" with the district's filter; the post was not sent. Please post again.");
        return "original";
      }
    }
    const text = panelText(info.findings);
    const result = await P.show({ verdict: verdictFor(info, text), text, minChars: info.justification_min_chars || 10, source: "proxy" });
    if (info.action === "warn" && result.choice === "overridden") {
      if (await override(info, result.justification)) return "resend";
      P.toast("postguard could not record \"Post anyway\" with the district's filter; the post was not sent. Please post again.");
      return "original";
    }
    // Edit / Escape on a warning is a choice only the extension sees; the proxy logged `warned`
    // (and logs `blocked` itself), so only this is sent to the backend.
    if (info.action === "warn") {
      send({ type: "event", event: { choice: result.choice === "cancelled" ? "cancelled" : "edited", text, site: location.hostname,
        url: location.href.slice(0, 4096), request_id: String(info.token).slice(0, 64) } });
    }
    return "original";
  }

  function reply(id, type, extra = {}) {
    window.postMessage({ channel: CH, dir: "to-page", type, nonce: pageNonce, id, ...extra }, location.origin);
  }

  window.addEventListener("message", (e) => {
    const d = e.data;
    if (e.source !== window || !d || d.channel !== CH || d.dir !== "to-ext" || typeof d.nonce !== "string") return;
    if (d.type === "hello") { if (pageNonce === null) pageNonce = d.nonce; return; }
    if (d.type !== "warning" || d.nonce !== pageNonce || !d.info || typeof d.id !== "string") return;
    reply(d.id, "ack");
    const info = d.info;
    if (!Array.isArray(info.findings)) { reply(d.id, "decision", { decision: "original" }); return; }
    queue = queue.then(() => decide(info)).catch(() => "original").then((decision) => reply(d.id, "decision", { decision }));
  });
  // In case mainworld.js said hello before this listener existed.
  window.postMessage({ channel: CH, dir: "to-page", type: "ready" }, location.origin);

  globalThis.PostguardApprovals = { add };
})();
