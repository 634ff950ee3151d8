// The warning panel, the typing hint and the small notice, each in its own shadow root so
// the site's CSS cannot restyle them and ours cannot leak into the site.
"use strict";

(() => {
  if (globalThis.PostguardPanel) return;

  const CSS = `
    :host { all: initial; }
    /* "hidden" must win over every display rule below (.actions is flex) */
    [hidden] { display: none !important; }
    .panel { position: fixed; right: 16px; bottom: 16px; z-index: 2147483647; box-sizing: border-box;
      width: min(440px, calc(100vw - 32px)); max-height: calc(100vh - 32px); overflow: auto;
      background: #fff; color: #1c1e21; border: 1px solid #c7ccd1; border-left: 6px solid #d08700;
      border-radius: 10px; box-shadow: 0 8px 28px rgba(0,0,0,.25); padding: 16px 18px;
      font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
    .panel.block { border-left-color: #c62828; }
    .panel.clear { border-left-color: #2e7d32; }
    h2 { font-size: 16px; margin: 0 0 6px; }
    p { margin: 4px 0; }
    .text { white-space: pre-wrap; word-break: break-word; background: #f5f6f7; border-radius: 6px;
      padding: 8px 10px; margin: 8px 0; max-height: 140px; overflow: auto; }
    mark { background: #ffe08a; color: inherit; border-bottom: 2px solid #d08700; padding: 0 1px; }
    ol { padding-left: 20px; margin: 8px 0; }
    li { margin: 0 0 10px; }
    .clause { color: #444; font-size: 13px; }
    .clause summary { cursor: pointer; }
    .fixline { font-size: 13px; color: #333; }
    button { font: inherit; border-radius: 6px; padding: 6px 12px; border: 1px solid #8a8d91; background: #fff;
      color: #1c1e21; cursor: pointer; }
    button.primary { background: #1b74e4; border-color: #1b74e4; color: #fff; }
    button.fix { margin-top: 4px; border-color: #2e7d32; color: #1b5e20; }
    button:focus-visible, textarea:focus-visible { outline: 3px solid #5b9dd9; outline-offset: 2px; }
    .actions { display: flex; gap: 8px; justify-content: flex-end; margin-top: 10px; flex-wrap: wrap; }
    textarea { width: 100%; box-sizing: border-box; min-height: 56px; font: inherit; margin-top: 4px; }
    .why label { font-weight: 600; }
    .err { color: #b3261e; font-size: 13px; min-height: 1em; }
    .hint { position: fixed; z-index: 2147483646; background: #fff8e1; color: #5d4300; border: 1px solid #e0b000;
      border-radius: 14px; padding: 3px 10px; font: 12px/1.4 system-ui, sans-serif; box-shadow: 0 2px 6px rgba(0,0,0,.15);
      pointer-events: none; max-width: 320px; }
    .toast { position: fixed; left: 50%; bottom: 18px; transform: translateX(-50%); z-index: 2147483647;
      background: #323232; color: #fff; border-radius: 8px; padding: 8px 14px; font: 13px/1.4 system-ui, sans-serif;
      max-width: min(520px, calc(100vw - 32px)); }
  `;

  function host(tag) {
    const el = document.createElement(tag);
    // open: lets tests and assistive tech reach it; the page already sees the post text.
    const root = el.attachShadow({ mode: "open" });
    const style = document.createElement("style");
    style.textContent = CSS;
    root.append(style);
    document.documentElement.append(el);
    return { el, root };
  }

  function h(tag, attrs = {}, ...kids) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (v === false || v == null) continue;
      if (k === "text") el.textContent = v; else el.setAttribute(k, v === true ? "" : v);
    }
    for (const kid of kids) if (kid != null) el.append(kid);
    return el;
  }

  // The post with every span of every finding wrapped in <mark>; built from text nodes, never
  // HTML. Spans are code-point offsets (as the backend counts); overlapping ones become one mark.
  function highlighted(text, findings) {
    const box = h("div", { class: "text", role: "group", "aria-label": "Your post, with the parts to look at highlighted" });
    const units = [0];  // code point i starts at UTF-16 index units[i]
    for (const ch of text) units.push(units[units.length - 1] + ch.length);
    const at = (i) => units[Math.max(0, Math.min(i, units.length - 1))];
    const spans = [];
    findings.forEach((f, i) => {
      for (const s of f.spans || (f.span ? [f.span] : [])) if (s && s[1] > s[0]) spans.push([at(s[0]), at(s[1]), i]);
    });
    spans.sort((x, y) => x[0] - y[0] || y[1] - x[1]);
    const marks = [];
    for (const [a, b, i] of spans) {
      const last = marks[marks.length - 1];
      if (last && a < last.b) { last.b = Math.max(last.b, b); last.of.add(i); } else marks.push({ a, b, of: new Set([i]) });
    }
    let pos = 0;
    for (const m of marks) {
      box.append(text.slice(pos, m.a), h("mark", { text: text.slice(m.a, m.b), "data-finding": Array.from(m.of).join(" ") }));
      pos = m.b;
    }
    box.append(text.slice(pos));
    return box;
  }

  let current = null;

  // Show the panel for `verdict`; resolves with {choice, justification} once the person decides.
  // `onFix(finding)` inserts the fix text and resolves with a fresh verdict (or null).
  function show({ verdict, text, minChars = 10, onFix, returnFocus, source = "extension" }) {
    close();
    const { el, root } = host("postguard-panel");
    el.setAttribute("data-source", source);  // "proxy": findings from the district's filter, not our check
    let resolveChoice;
    const done = new Promise((r) => { resolveChoice = r; });
    const titleId = "pg-title", descId = "pg-desc";

    function render(v, postText) {
      for (const n of Array.from(root.childNodes)) if (n.nodeName !== "STYLE") n.remove();
      const findings = v.findings || [];
      const blocking = findings.some((f) => !f.overridable);
      const clear = findings.length === 0;
      const panel = h("div", {
        class: "panel" + (blocking ? " block" : clear ? " clear" : ""), role: "alertdialog",
        "aria-modal": "true", "aria-labelledby": titleId, "aria-describedby": descId, "data-action": v.action,
      });
      const n = findings.length;
      panel.append(h("h2", { id: titleId, text: clear ? "All set — your post now follows the policy" :
        blocking ? "This post can't be sent as written" : `Before you post: ${n} thing${n > 1 ? "s" : ""} to look at` }));
      panel.append(h("p", { id: descId, text: clear ? "Press Post now to send it, or Edit to keep writing." :
        "postguard checked your post against the district's social media policy." +
        (blocking ? " Please edit it first." : " You can edit it, or post anyway with a short reason.") }));
      if (!clear) {
        panel.append(highlighted(postText, findings));
        const list = h("ol", { "aria-label": "What to look at" });
        findings.forEach((f, i) => {
          const li = h("li", { "data-rule": f.rule, "data-clause": f.clause, "data-finding": String(i) });
          li.append(h("p", { class: "exp", text: f.explanation || f.message }));
          const det = h("details", { class: "clause" },
            h("summary", { text: `Policy clause ${f.clause}` }), h("p", { text: f.clause_text || f.message }));
          li.append(det);
          if (f.fix && !f.fix_text) li.append(h("p", { class: "fixline", text: `How to fix: ${f.fix}` }));
          if (f.fix_text && onFix) {
            const b = h("button", { class: "fix", type: "button", "data-fix": String(i), text: f.fix || "Apply the fix" });
            b.addEventListener("click", async () => {
              b.disabled = true;
              const next = await onFix(f);
              if (next) { postText = next.text; v = next.verdict; render(v, postText); }
              else b.disabled = false;
            });
            li.append(b);
          }
          list.append(li);
        });
        panel.append(list);
      }
      const why = h("div", { class: "why", hidden: true });
      const ta = h("textarea", { id: "pg-just", maxlength: "2000", "aria-describedby": "pg-err" });
      const err = h("p", { class: "err", id: "pg-err", role: "alert" });
      why.append(h("label", { for: "pg-just", text: `Why post anyway? (at least ${minChars} characters; this is logged)` }), ta, err);
      const confirm = h("button", { class: "primary", type: "button", "data-act": "confirm", text: "Post anyway" });
      const back = h("button", { type: "button", "data-act": "back", text: "Back" });
      why.append(h("div", { class: "actions" }, back, confirm));
      panel.append(why);
      const edit = h("button", { type: "button", "data-act": "edit", text: "Edit" });
      const actions = h("div", { class: "actions" }, edit);
      if (clear) {
        const now = h("button", { class: "primary", type: "button", "data-act": "post", text: "Post now" });
        now.addEventListener("click", () => finish({ choice: "posted-clean", text: postText, verdict: v }));
        actions.append(now);
      } else if (!blocking) {
        const anyway = h("button", { type: "button", "data-act": "anyway", text: "Post anyway…" });
        anyway.addEventListener("click", () => { why.hidden = false; actions.hidden = true; ta.focus(); });
        actions.append(anyway);
      }
      panel.append(actions);
      edit.addEventListener("click", () => finish({ choice: "edited", text: postText, verdict: v }));
      back.addEventListener("click", () => { why.hidden = true; actions.hidden = false; edit.focus(); });
      confirm.addEventListener("click", () => {
        const j = ta.value.trim();
        if (j.length < minChars) { err.textContent = `Please give a reason of at least ${minChars} characters.`; ta.focus(); return; }
        finish({ choice: "overridden", justification: j, text: postText, verdict: v });
      });
      panel.addEventListener("keydown", (e) => {
        e.stopPropagation();  // the site's shortcuts must not fire while the panel has focus
        if (e.key === "Escape") { e.preventDefault(); finish({ choice: "cancelled", text: postText, verdict: v }); }
        if (e.key === "Tab") trap(e, panel);
      });
      root.append(panel);
      (clear ? actions.querySelector('[data-act="post"]') : edit).focus();
    }

    function trap(e, panel) {
      const items = Array.from(panel.querySelectorAll("button, textarea, summary"))
        .filter((x) => !x.disabled && x.offsetParent !== null);
      if (!items.length) return;
      const first = items[0], last = items[items.length - 1], active = root.activeElement;
      if (e.shiftKey && active === first) { e.preventDefault(); last.focus(); }
      else if (!e.shiftKey && active === last) { e.preventDefault(); first.focus(); }
    }

    function finish(result) {
      close();
      if (returnFocus && returnFocus.isConnected) returnFocus.focus();
      resolveChoice(result);
    }

    render(verdict, text);
    el.setAttribute("data-shown-at", String(performance.now()));  // for bench/extension
    current = { el, finish };
    return done;
  }

  function close() {
    if (current) { current.el.remove(); current = null; }
  }

  // The typing hint: next to the composer, never over `avoid` (the site's send controls) or
  // the text being written; kept in place while the page scrolls; hidden when no place fits.
  let hintBox = null;
  function hint(editor, verdict, avoid = []) {
    const n = (verdict && verdict.findings || []).length;
    if (!n || !editor || !editor.isConnected) { removeHint(); return; }
    if (!hintBox || !hintBox.el.isConnected) {
      hintBox = host("postguard-hint");
      hintBox.box = h("div", { class: "hint", role: "status", "aria-live": "polite" });
      hintBox.root.append(hintBox.box);
      hintBox.onMove = () => placeHint();
      addEventListener("scroll", hintBox.onMove, { capture: true, passive: true });
      addEventListener("resize", hintBox.onMove, { passive: true });
    }
    Object.assign(hintBox, { editor, avoid });
    const first = verdict.findings[0];
    hintBox.box.textContent = `postguard: ${n} thing${n > 1 ? "s" : ""} to look at before posting — ${first.explanation || first.message}`;
    placeHint();
  }

  function removeHint() {
    if (!hintBox) return;
    removeEventListener("scroll", hintBox.onMove, { capture: true });
    removeEventListener("resize", hintBox.onMove);
    hintBox.el.remove();
    hintBox = null;
  }

  const overlaps = (a, b) => a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;

  function placeHint() {
    const { box, editor, avoid } = hintBox;
    if (!editor.isConnected) { removeHint(); return; }
    box.hidden = false;
    box.style.visibility = "hidden";
    box.style.top = box.style.left = "0px";
    const w = box.offsetWidth, hh = box.offsetHeight, r = editor.getBoundingClientRect();
    const controls = avoid.filter((el) => el.isConnected).map((el) => el.getBoundingClientRect()).filter((c) => c.width && c.height);
    const below = Math.max(r.bottom, ...controls.map((c) => c.bottom));
    const left = Math.max(4, Math.min(innerWidth - w - 4, r.left));
    // Under the composer, above it, then under its send controls.
    const spot = [r.bottom + 4, r.top - hh - 4, below + 4].map((top) => ({ top, left, right: left + w, bottom: top + hh }))
      .find((s) => s.top >= 4 && s.bottom <= innerHeight - 4 && !overlaps(s, r) && !controls.some((c) => overlaps(s, c)));
    if (!spot) { box.hidden = true; return; }
    Object.assign(box.style, { top: `${spot.top}px`, left: `${spot.left}px`, visibility: "" });
  }

  function toast(message, ms = 6000) {
    const { el, root } = host("postguard-toast");
    root.append(h("div", { class: "toast", role: "status", "aria-live": "polite", text: message }));
    setTimeout(() => el.remove(), ms);
  }

  globalThis.PostguardPanel = { show, close, hint, toast, isOpen: () => Boolean(current) };
})();
