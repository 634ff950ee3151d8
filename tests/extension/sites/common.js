// Test fixtures: small stand-ins for the editors the real sites use. Each keeps its own
// model of the text (as Lexical, Draft.js and Quill do) and renders the DOM from it, so a
// change that bypasses the editor's input events is lost, as it would be on the real site.
"use strict";

window.__sent = [];
window.__t0 = 0;
// Time origin for the bench: a trusted pointer press on a send button.
window.addEventListener("pointerdown", () => { window.__t0 = performance.now(); }, true);

function modelEditor(el, { blockTag = "p", draft = false } = {}) {
  let text = "";
  const render = () => {
    el.replaceChildren();
    for (const line of text.split("\n")) {
      let block;
      if (draft) {
        block = document.createElement("div");
        block.setAttribute("data-block", "true");
        const inner = document.createElement("div");
        inner.className = "public-DraftStyleDefault-block";
        const span = document.createElement("span");
        span.setAttribute("data-text", "true");
        span.textContent = line;
        inner.append(line ? span : document.createElement("br"));
        block.append(inner);
      } else {
        block = document.createElement(blockTag);
        if (line) block.textContent = line; else block.append(document.createElement("br"));
      }
      el.append(block);
    }
    const sel = getSelection();
    if (document.activeElement === el) {
      const r = document.createRange();
      r.selectNodeContents(el);
      r.collapse(false);
      sel.removeAllRanges();
      sel.addRange(r);
    }
  };
  el.addEventListener("beforeinput", (e) => {
    // The editor owns the text: it applies the edit to its model and re-renders.
    e.preventDefault();
    if (e.inputType === "insertText" || e.inputType === "insertReplacementText" || e.inputType === "insertFromPaste") {
      text += (e.data ?? (e.dataTransfer && e.dataTransfer.getData("text/plain")) ?? "");
    } else if (e.inputType === "insertParagraph" || e.inputType === "insertLineBreak") {
      text += "\n";
    } else if (e.inputType.startsWith("deleteContent")) {
      const sel = getSelection();
      const chosen = sel && !sel.isCollapsed ? sel.toString().replace(/\n+/g, "\n") : "";
      if (chosen && chosen.trim() === text.trim()) text = "";  // select-all + delete
      else if (chosen && text.includes(chosen)) text = text.replace(chosen, "");
      else text = text.slice(0, -1);
    }
    render();
    own = true;
    el.dispatchEvent(new InputEvent("input", { bubbles: true, inputType: e.inputType, data: e.data }));
    own = false;
  });
  // Edits that skip beforeinput (execCommand, IME, spell-check) still fire `input`; the real
  // editors reconcile their model from the DOM then (Lexical's mutation observer, Draft's
  // onInput). A silent DOM change with no event at all is lost, as on the real sites.
  let own = false;
  el.addEventListener("input", () => {
    if (own) return;
    text = Array.from(el.children).map((b) => b.textContent).join("\n");
    render();
  });
  render();
  return { get text() { return text; }, clear() { text = ""; render(); } };
}

function sendPost(text, where) {
  window.__t1 = performance.now();
  window.__sent.push(text);
  const a = document.createElement("article");
  a.setAttribute("data-sent", where || "post");
  a.textContent = text;
  document.getElementById("feed").prepend(a);
}

function onActivate(el, fn) {
  el.addEventListener("click", fn);
  el.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); fn(e); } });
}
