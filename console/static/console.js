// Keyboard shortcuts and clickable rows; the console works without this script.
(() => {
  "use strict";
  // Shortcuts stay off while typing; radio buttons and checkboxes are not typing.
  const typing = (el) => el && (el.isContentEditable || /^(TEXTAREA|SELECT)$/.test(el.tagName) ||
    (el.tagName === "INPUT" && !/^(radio|checkbox|button|submit)$/.test(el.type)));
  const rows = () => Array.from(document.querySelectorAll("#events tbody tr[data-href]"));
  let sel = -1;
  const select = (i) => {
    const rs = rows();
    if (!rs.length) return;
    sel = Math.max(0, Math.min(rs.length - 1, i));
    rs.forEach((r, k) => r.classList.toggle("selected", k === sel));
    rs[sel].querySelector("a.rowlink")?.focus({ preventScroll: true });
    rs[sel].scrollIntoView({ block: "nearest" });
  };
  document.addEventListener("click", (e) => {
    const tr = e.target.closest("tr[data-href]");
    if (tr && !e.target.closest("a, button, input")) window.location.href = tr.dataset.href;
  });
  document.addEventListener("keydown", (e) => {
    const help = document.getElementById("help");
    if (e.key === "Escape" && help && !help.hidden) { help.hidden = true; return; }
    if (typing(document.activeElement) || e.ctrlKey || e.metaKey || e.altKey) return;
    const go = (id) => { const a = document.getElementById(id); if (a) window.location.href = a.href; };
    switch (e.key) {
      case "?": if (help) help.hidden = !help.hidden; break;
      case "/": { const f = document.getElementById("filter-first"); if (f) { e.preventDefault(); f.focus(); } break; }
      case "j": select(sel + 1); break;
      case "k": select(sel - 1); break;
      case "Enter": if (sel >= 0) { e.preventDefault(); window.location.href = rows()[sel].dataset.href; } break;
      case "[": go("newer"); break;
      case "]": go("older"); break;
      case "u": go("back"); break;
      case "n": { const n = document.getElementById("note"); if (n) { e.preventDefault(); n.focus(); } break; }
      case "1": case "2": case "3": {
        const r = document.querySelectorAll('#review input[name="status"]')[Number(e.key) - 1];
        if (r) { r.checked = true; r.focus(); }
        break;
      }
      default: return;
    }
  });
})();
