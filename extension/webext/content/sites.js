// Site knowledge for the content script: which button posts, where the text is, and who
// the post goes to (page / group / account), per social site, plus a generic fallback.
"use strict";

(() => {
  if (globalThis.PostguardSites) return;
  const EDITOR = 'textarea, [contenteditable="true"], [contenteditable=""], [contenteditable="plaintext-only"], [role="textbox"]';
  const GENERIC_WORDS = /^(post|post all|tweet|reply|comment|send|share|share now|publish|toot|skeet|submit)$/i;

  const label = (el) =>
    ((el.getAttribute && (el.getAttribute("aria-label") || el.getAttribute("title"))) || el.value || el.textContent || "")
      .replace(/\s+/g, " ").trim().slice(0, 40);
  const path = () => location.pathname.replace(/\/+$/, "");
  const seg = (i) => path().split("/")[i] || "";
  const url = (p) => `${location.origin}${p}`;
  const editorLabel = (ed) => (ed && ((ed.getAttribute("aria-label") || "") + " " + (ed.getAttribute("placeholder") || "") +
    " " + (ed.getAttribute("aria-placeholder") || ""))).toLowerCase();

  const FB_RESERVED = /^(|home\.php|watch|marketplace|gaming|groups|events|pages|notifications|messages|friends|bookmarks|saved|reel|reels|stories|search|settings|photo|permalink\.php|story\.php)$/;

  const SITES = {
    facebook: {
      hosts: ["facebook.com"],
      words: /^(post|share|share now|comment|reply|send|publish|save)$/i,
      enterSubmits: (ed) => /comment|reply|answer|message/.test(editorLabel(ed)),
      kind: (ed) => (/reply/.test(editorLabel(ed)) ? "reply" : /comment|answer/.test(editorLabel(ed)) ? "comment" : "post"),
      target() {
        if (seg(1) === "groups" && seg(2)) return url(`/groups/${seg(2)}`);
        if (seg(1) === "profile.php") return new URLSearchParams(location.search).get("id");
        if (!FB_RESERVED.test(seg(1))) return url(`/${seg(1)}`);
        return null;
      },
    },
    instagram: {
      hosts: ["instagram.com"],
      words: /^(share|post|reply|send)$/i,
      enterSubmits: (ed) => /comment|reply|message/.test(editorLabel(ed)),
      kind: (ed) => (/comment|reply/.test(editorLabel(ed)) ? "comment" : "post"),
      target() {  // posts go out as the signed-in account: the nav's profile link names it
        const a = document.querySelector('a[aria-label="Profile"][href], nav a[href][data-pg-profile]');
        const p = a && new URL(a.href, location.href).pathname.replace(/\/+$/, "");
        return p ? url(p) : null;
      },
    },
    x: {
      hosts: ["x.com", "twitter.com"],
      testids: ["tweetButton", "tweetButtonInline"],
      words: /^(post|post all|reply|tweet)$/i,
      ctrlEnter: true,
      enterSubmits: () => false,
      kind: () => (/\/status\//.test(location.pathname) ? "reply" : "post"),
      target() {
        const a = document.querySelector('a[data-testid="AppTabBar_Profile_Link"][href]');
        const p = a && new URL(a.href, location.href).pathname.replace(/\/+$/, "");
        return p ? url(p) : null;
      },
    },
    linkedin: {
      hosts: ["linkedin.com"],
      words: /^(post|comment|reply|send|share|repost)$/i,
      ctrlEnter: true,
      enterSubmits: () => false,
      kind: (ed) => (ed && ed.closest(".comments-comment-box, .comments-comment-texteditor, [data-pg-comment]") ? "comment" : "post"),
      target() {  // posting as a company page happens from its admin view
        if (seg(1) === "company" && seg(2)) return url(`/company/${seg(2)}`);
        return null;
      },
    },
    youtube: {
      hosts: ["youtube.com"],
      words: /^(comment|reply|post|save)$/i,
      ids: ["submit-button"],
      ctrlEnter: true,
      enterSubmits: () => false,
      kind: (ed) => (ed && ed.closest("ytd-comment-replies-renderer, [data-pg-reply]") ? "reply" : "comment"),
      target() { return seg(1).startsWith("@") ? url(`/${seg(1)}`) : null; },
    },
    reddit: {
      hosts: ["reddit.com"],
      words: /^(post|comment|reply|save)$/i,
      ctrlEnter: true,
      enterSubmits: () => false,
      kind: () => (/\/comments\//.test(location.pathname) ? "comment" : "post"),
      target() { return seg(1) === "r" || seg(1) === "user" ? url(`/${seg(1)}/${seg(2)}`) : null; },
    },
    tiktok: {
      hosts: ["tiktok.com"],
      words: /^(post|comment|reply|send)$/i,
      e2e: ["comment-post", "post_video_button"],
      enterSubmits: (ed) => /comment|reply/.test(editorLabel(ed)),
      kind: (ed) => (/comment|reply/.test(editorLabel(ed)) ? "comment" : "post"),
      target() { return seg(1).startsWith("@") ? url(`/${seg(1)}`) : null; },
    },
    generic: {
      hosts: [],
      words: GENERIC_WORDS,
      ctrlEnter: true,
      enterSubmits: () => false,
      kind: () => "post",
      target() { return url(path() || "/"); },
    },
  };

  function forHost(host) {
    host = host.toLowerCase();
    for (const [name, s] of Object.entries(SITES)) {
      if (s.hosts.some((h) => host === h || host.endsWith("." + h))) return { name, ...s };
    }
    return { name: "generic", ...SITES.generic };
  }

  // Is this element the site's "send it" control?
  function isSubmit(site, el) {
    if (!el || el.disabled || el.getAttribute("aria-disabled") === "true") return false;
    const tid = el.getAttribute("data-testid");
    if (tid && site.testids && site.testids.includes(tid)) return true;
    const e2e = el.getAttribute("data-e2e");
    if (e2e && site.e2e && site.e2e.includes(e2e)) return true;
    if (site.ids && site.ids.includes(el.id)) return true;
    return site.words.test(label(el)) || GENERIC_WORDS.test(label(el));
  }

  function isEditor(el) {
    return Boolean(el && el.nodeType === 1 && (el.matches("textarea") || el.isContentEditable ||
      el.getAttribute("role") === "textbox"));
  }

  // The outermost editable root (Draft.js and Lexical nest contenteditable content).
  function editorRoot(el) {
    let cur = el && el.nodeType === 1 ? el : el && el.parentElement;
    if (!cur) return null;
    if (cur.matches("textarea")) return cur;
    let root = null;
    while (cur && cur !== document.body) {
      if (cur.isContentEditable || cur.getAttribute("role") === "textbox") root = cur;
      cur = cur.parentElement;
    }
    if (root && root.getAttribute("role") === "textbox" && !root.isContentEditable) {
      root = root.querySelector('[contenteditable="true"], [contenteditable=""]') || root;
    }
    return root;
  }

  // From the clicked button, the nearest ancestor that holds an editor with something in it.
  function composerOf(btn, lastEditor) {
    let cur = btn.parentElement;
    for (let depth = 0; cur && depth < 15; depth++, cur = cur.parentElement) {
      const eds = Array.from(cur.querySelectorAll(EDITOR)).map(editorRoot).filter(Boolean);
      if (eds.length) {
        const pick = (lastEditor && eds.includes(lastEditor)) ? lastEditor :
          (eds.find((e) => readText(e).trim()) || eds[0]);
        return { root: cur, editor: pick };
      }
    }
    return lastEditor && lastEditor.isConnected ? { root: lastEditor.parentElement, editor: lastEditor } : null;
  }

  // The send controls of the composer around an editor (the typing hint must not cover them).
  function submitsNear(site, ed) {
    for (let cur = ed.parentElement, depth = 0; cur && depth < 15; cur = cur.parentElement, depth++) {
      const found = Array.from(cur.querySelectorAll('button, [role="button"], input[type="submit"]')).filter((b) => isSubmit(site, b));
      if (found.length) return found;
    }
    return [];
  }

  function readText(ed) {
    if (!ed) return "";
    if (ed.matches("textarea, input")) return ed.value;
    // innerText keeps line breaks the way the person sees them (Draft/Lexical blocks).
    return (ed.innerText || ed.textContent || "").replace(/\u200b/g, "").replace(/\n{3,}/g, "\n\n").trim();
  }

  const URL_RE = /\bhttps?:\/\/[^\s<>"')\]]+|\b(?:www\.)[a-z0-9-]+(?:\.[a-z0-9-]+)+(?:\/[^\s<>"')\]]*)?/gi;
  function linksOf(root, text) {
    const out = new Set((text.match(URL_RE) || []).map((u) => (u.startsWith("http") ? u : "https://" + u)));
    for (const a of root ? root.querySelectorAll("a[href]") : []) {
      try {
        const u = new URL(a.href, location.href);
        if (/^https?:$/.test(u.protocol) && u.host !== location.host) out.add(u.href);
      } catch (_) { /* not a URL */ }
    }
    return Array.from(out).slice(0, 50);
  }

  globalThis.PostguardSites = { forHost, isSubmit, isEditor, editorRoot, composerOf, submitsNear, readText, linksOf, EDITOR };
})();
