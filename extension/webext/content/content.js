// postguard content script: catch the submit before the site sees it, ask the backend (via
// the service worker), and let the post go only after the person's choice.
"use strict";

(() => {
  if (globalThis.__postguardLoaded) return;
  globalThis.__postguardLoaded = true;
  const S = globalThis.PostguardSites, P = globalThis.PostguardPanel;
  const site = S.forHost(location.hostname);
  const MAX_IMAGE_BYTES = 5 * 1024 * 1024, MAX_IMAGES_BYTES = 6 * 1024 * 1024;
  let bypass = false;       // true while we re-dispatch the person's own submit
  let pending = false;      // a check or a panel is in progress
  let lastEditor = null;
  // Composers whose warned post has not gone out yet. Its outcome (sent clean after an edit by
  // hand) is logged once, then the composer is forgotten: later clean posts are never logged.
  const warned = new WeakSet();

  const send = (msg) => new Promise((resolve) => {
    try {
      chrome.runtime.sendMessage(msg, (r) => resolve(chrome.runtime.lastError ? { ok: false, error: chrome.runtime.lastError.message } : r));
    } catch (e) { resolve({ ok: false, error: String(e) }); }  // extension reloaded under us
  });

  async function images(root) {
    const out = [];
    let total = 0;
    const inputs = (root && root.querySelectorAll('input[type="file"]')) || [];
    const all = inputs.length ? inputs : document.querySelectorAll('[role="dialog"] input[type="file"], form input[type="file"]');
    for (const inp of all) {
      for (const f of Array.from(inp.files || [])) {
        if (!f.type.startsWith("image/") || f.size > MAX_IMAGE_BYTES || total + f.size > MAX_IMAGES_BYTES || out.length >= 10) continue;
        total += f.size;
        const data = await new Promise((res) => {
          const r = new FileReader();
          r.onload = () => res(String(r.result));
          r.onerror = () => res(null);
          r.readAsDataURL(f);
        });
        if (data) out.push({ name: f.name.slice(0, 255), data });
      }
    }
    return out;
  }

  function describe(composer, text) {
    return {
      text, site: location.hostname, url: location.href.slice(0, 4096),
      target: site.target(), kind: site.kind(composer.editor),
      links: S.linksOf(composer.root, text),
    };
  }

  // Put `addition` at the end of the editor, after exactly one blank line (none in an empty
  // post; trailing spaces and empty lines are removed first), the way typing would, so that
  // React/Draft/Lexical update their own state (a bare DOM change is undone on their next render).
  function insertText(editor, addition) {
    editor.focus();
    if (editor.matches("textarea, input")) {
      const setter = Object.getOwnPropertyDescriptor(Object.getPrototypeOf(editor), "value").set;
      const kept = editor.value.replace(/\s+$/, "");
      setter.call(editor, kept + (kept ? "\n\n" : "") + addition);
      editor.dispatchEvent(new Event("input", { bubbles: true }));
      return;
    }
    const written = S.readText(editor);  // trimmed: removing trailing space leaves it as is
    for (let n = trailingCount(editor); n > 0; n--) {  // one backspace per trailing character
      select(endOf(editor));
      if (!edit(editor, "deleteContentBackward", null, "delete")) break;
      const now = S.readText(editor);
      if (now !== written) {  // it reached the words (white space the page does not render): put them back
        select(endOf(editor));
        if (written.startsWith(now)) edit(editor, "insertText", written.slice(now.length), "insertText");
        break;
      }
    }
    select(endOf(editor));
    const text = (S.readText(editor) ? "\n\n" : "") + addition;
    if (!edit(editor, "insertText", text, "insertText")) {
      editor.append(document.createTextNode(text));
      editor.dispatchEvent(new InputEvent("input", { bubbles: true, inputType: "insertText", data: text }));
    }
  }

  // One edit through the editor's own beforeinput handler (Lexical, ProseMirror, Slate: they
  // cancel it and apply it to their model); an editor that does not take it gets the native
  // command, whose `input` event it reconciles from. False when neither applied it.
  function edit(editor, inputType, data, command) {
    const init = { inputType, data, bubbles: true, cancelable: true, composed: true };
    if (!editor.dispatchEvent(new InputEvent("beforeinput", init))) return true;
    return document.execCommand(command, false, data == null ? undefined : data);
  }

  function select(range) {
    const sel = getSelection();
    sel.removeAllRanges();
    sel.addRange(range);
  }

  function endOf(editor) {
    const range = document.createRange();
    range.selectNodeContents(editor);
    range.collapse(false);
    return range;
  }

  // How many characters follow the post's last visible one in the editor's own model: spaces
  // in its paragraph, and one line break per empty paragraph after it (at most 200).
  function trailingCount(editor) {
    const texts = [];
    const walk = document.createTreeWalker(editor, NodeFilter.SHOW_TEXT);
    for (let n = walk.nextNode(); n; n = walk.nextNode()) texts.push(n);
    let i = texts.length - 1;
    while (i >= 0 && !/\S/.test(texts[i].data)) i--;
    if (i < 0) return 0;
    const block = blockOf(texts[i], editor);
    let count = texts[i].data.length - texts[i].data.search(/\s*$/);
    for (const t of texts.slice(i + 1)) if (blockOf(t, editor) === block) count += t.data.length;
    const following = (el) => block.compareDocumentPosition(el) & Node.DOCUMENT_POSITION_FOLLOWING;
    for (const el of editor.querySelectorAll("*")) {
      if (following(el) && !block.contains(el) && isBlock(el) && !Array.from(el.children).some(isBlock)) count++;
    }
    return Math.min(count, 200);
  }

  const isBlock = (el) => !/^(inline|contents|none)/.test(getComputedStyle(el).display);

  function blockOf(node, editor) {
    for (let el = node.parentElement; el && el !== editor; el = el.parentElement) if (isBlock(el)) return el;
    return editor;
  }

  function replay(trigger) {
    bypass = true;
    try {
      if (trigger.type === "click") {
        // React may have re-rendered the button while we waited: find its successor.
        let el = trigger.el;
        if (!el.isConnected && trigger.root && trigger.root.isConnected) {
          el = Array.from(trigger.root.querySelectorAll('button, [role="button"], input[type="submit"]'))
            .find((b) => S.isSubmit(site, b)) || el;
        }
        el.click();
      }
      else if (trigger.type === "key") {
        trigger.el.dispatchEvent(new KeyboardEvent("keydown", { ...trigger.init, bubbles: true, cancelable: true, composed: true }));
      } else if (trigger.type === "submit") {
        trigger.el.requestSubmit ? trigger.el.requestSubmit(trigger.submitter || undefined) : trigger.el.submit();
      }
    } finally {
      bypass = false;
    }
  }

  function event(choice, post, extra = {}) {
    return send({ type: "event", event: { choice, ...post, ...extra } });
  }

  async function decide(composer, trigger) {
    pending = true;
    try {
      const text = S.readText(composer.editor);
      const post = describe(composer, text);
      const imgs = await images(composer.root);
      const res = await send({ type: "check", post: imgs.length ? { ...post, images: imgs } : post });
      if (!res || !res.ok) {
        const { images: _, ...bare } = post;
        if ((res && res.failMode) === "block") {
          P.toast("postguard could not check this post (its service is not answering), and your district asks for a check before posting. Please try again in a moment.");
          return;
        }
        replay(trigger);
        const r = await event("unchecked", bare, { error: "not checked when posted: " + String(res && res.error || "no answer").slice(0, 400) });
        P.toast(r && r.queued ? "postguard could not check this post; it was sent, and the record will be sent to the district when the service is back."
          : "postguard could not check this post; it was sent.");
        return;
      }
      if (res.off) { replay(trigger); return; }
      const v = res.verdict;
      const base = { ...post, request_id: v.request_id };
      if (v.action === "pass" || v.action === "log" || res.mode === "monitor") {
        replay(trigger);
        if (v.action !== "pass") event("logged", base);
        else if (warned.has(composer.editor)) event("posted-clean", base);
        warned.delete(composer.editor);
        return;
      }
      warned.add(composer.editor);
      P.hint(null, null);
      const minChars = (await policyMinChars()) || 10;
      const result = await P.show({
        verdict: v, text, minChars, returnFocus: composer.editor,
        onFix: async (f) => {
          insertText(composer.editor, f.fix_text);
          const t2 = S.readText(composer.editor);
          const r2 = await send({ type: "check", post: describe(composer, t2) });
          return r2 && r2.ok ? { text: t2, verdict: r2.verdict } : null;
        },
      });
      const after = { ...describe(composer, result.text), request_id: result.verdict.request_id };
      if (result.choice === "overridden" || result.choice === "posted-clean") warned.delete(composer.editor);
      if (result.choice === "overridden") {
        // Remembered first: if the proxy warns about the replayed post, it is overridden with this reason.
        if (globalThis.PostguardApprovals) globalThis.PostguardApprovals.add(result.text, result.justification);
        replay(trigger);
        event("overridden", after, { justification: result.justification });
      } else if (result.choice === "posted-clean") {
        replay(trigger);
        event("posted-clean", after);
      } else {
        event(result.choice, after);  // edited / cancelled: the post stays in the composer
      }
    } finally {
      pending = false;
    }
  }

  let minCharsCache = null;
  async function policyMinChars() {
    if (minCharsCache !== null) return minCharsCache;
    const st = await send({ type: "status" });
    minCharsCache = (st && st.policy && st.policy.justification_min_chars) || 10;
    return minCharsCache;
  }

  // Decide synchronously whether to hold this submit: we must call preventDefault now.
  function hold(e, composer, trigger) {
    if (!composer || !composer.editor) return false;
    const hasText = S.readText(composer.editor).trim().length > 0;
    const hasFiles = Array.from((composer.root || document).querySelectorAll('input[type="file"]')).some((i) => i.files && i.files.length);
    if (!hasText && !hasFiles) return false;
    e.preventDefault();
    e.stopImmediatePropagation();
    if (!pending) decide(composer, trigger);
    return true;
  }

  function onClick(e) {
    if (bypass) return;
    // composedPath: the button may sit in (or be slotted into) a web component's shadow root.
    const btn = e.composedPath().find((n) => n.nodeType === 1 && n.matches('button, [role="button"], input[type="submit"]'));
    if (!btn || !S.isSubmit(site, btn) || btn.closest("postguard-panel")) return;
    const composer = S.composerOf(btn, lastEditor);
    hold(e, composer, { type: "click", el: btn, root: composer && composer.root });
  }

  function onKey(e) {
    if (bypass || e.key !== "Enter" || e.isComposing) return;
    const ed = S.editorRoot(e.target);
    if (!ed) return;
    const ctrl = (e.ctrlKey || e.metaKey) && !e.shiftKey && !e.altKey;
    const plain = !e.ctrlKey && !e.metaKey && !e.shiftKey && !e.altKey;
    if (!((ctrl && site.ctrlEnter) || (plain && site.enterSubmits(ed)))) return;
    const init = { key: e.key, code: e.code, keyCode: 13, which: 13, ctrlKey: e.ctrlKey, metaKey: e.metaKey, shiftKey: e.shiftKey, altKey: e.altKey };
    hold(e, { root: ed.closest('[role="dialog"], form') || ed.parentElement, editor: ed }, { type: "key", el: e.target, init });
  }

  function onSubmit(e) {
    if (bypass) return;
    const form = e.target;
    const ed = Array.from(form.querySelectorAll(S.EDITOR)).map(S.editorRoot).find((x) => x && S.readText(x).trim());
    if (!ed) return;
    hold(e, { root: form, editor: ed }, { type: "submit", el: form, submitter: e.submitter });
  }

  // Gentle hints: after a pause in typing, never on each key, never blocking.
  let hintTimer = 0, hintSeq = 0, hintsOn = null;
  function onInput(e) {
    const ed = S.editorRoot(e.target);
    if (!ed) return;
    lastEditor = ed;
    clearTimeout(hintTimer);
    hintTimer = setTimeout(async () => {
      if (pending || P.isOpen()) return;
      if (hintsOn === null) { const c = await send({ type: "config" }); hintsOn = Boolean(c && c.ok && c.config.hints && c.config.mode === "warn"); }
      if (!hintsOn) return;
      const text = S.readText(ed);
      if (text.trim().length < 3) { P.hint(null, null); return; }
      const seq = ++hintSeq;
      const res = await send({ type: "check", post: { ...describe({ root: ed.parentElement, editor: ed }, text), hint: true } });
      if (seq === hintSeq && res && res.ok && !P.isOpen()) P.hint(ed, res.verdict, S.submitsNear(site, ed));
    }, 900);
  }

  function onFocus(e) {
    const ed = S.editorRoot(e.target);
    if (ed) lastEditor = ed;
  }

  window.addEventListener("click", onClick, true);
  window.addEventListener("keydown", onKey, true);
  window.addEventListener("submit", onSubmit, true);
  document.addEventListener("input", onInput, { capture: true, passive: true });
  document.addEventListener("focusin", onFocus, { capture: true, passive: true });
})();
