// The popup: is postguard working, what employees are told, and what the policy says.
"use strict";

const $ = (id) => document.getElementById(id);
const send = (msg) => new Promise((r) => chrome.runtime.sendMessage(msg, r));

function clauses(list, ids, all) {
  list.replaceChildren(...ids.filter((id) => all[id]).map((id) => {
    const li = document.createElement("li");
    li.value = Number(id.slice(1));
    li.textContent = all[id];
    return li;
  }));
}

async function refresh() {
  const st = await send({ type: "status" });
  const ok = st && st.backend && st.backend.ok;
  $("status").textContent = ok ? "Active: posts are checked before they are sent."
    : `The postguard service is not answering${st && st.backend && st.backend.error ? ` (${st.backend.error})` : ""}. ` +
      (st && st.config && st.config.failMode === "block" ? "Posting waits until it is back." : "Posts are sent unchecked and recorded later.");
  $("status").className = ok ? "ok" : "down";
  if (st && st.queued) { $("queued").hidden = false; $("queued").textContent = `${st.queued} record(s) waiting to be sent.`; }
  const p = st && st.policy;
  if (p) {
    $("notice").textContent = p.notice;
    $("district").textContent = `${p.district} — policy version ${p.digest}`;
    const ids = Object.keys(p.clauses);
    clauses($("personal"), ids.filter((i) => i.startsWith("P")), p.clauses);
    clauses($("sponsored"), ids.filter((i) => i.startsWith("D")), p.clauses);
  }
  const cfg = (st && st.config) || {};
  $("backendUrl").value = cfg.backendUrl || "";
  $("token").placeholder = cfg.tokenSet ? "(set)" : "(not set)";
  const managed = cfg.managedKeys || [];
  $("managed").hidden = !managed.length;
  $("backendUrl").disabled = managed.includes("backendUrl");
  $("token").disabled = managed.includes("token");
}

$("save").addEventListener("click", async () => {
  const config = { backendUrl: $("backendUrl").value.trim() };
  if ($("token").value) config.token = $("token").value;
  await send({ type: "saveConfig", config });
  $("token").value = "";
  refresh();
});

refresh();
