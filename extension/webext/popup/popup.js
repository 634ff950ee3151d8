// The popup: is postguard working (and if not, exactly what is wrong and what IT should check),
// what employees are told, and what the policy says.
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

const VIA = {
  agent: "through the postguard agent on this computer",
  backend: "through a local backend paired by hand",
  server: "through the district server",
};

// problem -> [what is wrong, what IT should check]
function explain(problem, cfg) {
  const server = cfg.serverUrl || "(no server set)";
  switch (problem) {
    case "agent-down":
      return ["Agent not running: the postguard agent on this computer is not answering.",
        "IT: check the agent service (systemctl status postguard-agent, or postguard agent status): it runs the " +
        "extension backend on 127.0.0.1:8731."];
    case "server-unreachable":
      return [`Server unreachable: the district server ${server} is not answering.`,
        `IT: check that postguard server runs at ${server} and that this device reaches it (network, firewall, ` +
        "certificate)."];
    case "server-not-recording":
      return [`Server not recording: the district server ${server} answered but cannot take checks or records right now.`,
        `IT: check the server's health (${server}/api/v1/health) and its database; records wait in this browser ` +
        "until it takes them again."];
    default:  // not-paired
      return ["Not paired: this browser has no postguard agent and no district server to check posts with.",
        `IT: on a computer, run postguard agent install (it registers the native messaging host ${cfg.nativeHost} ` +
        `for extension id ${cfg.extensionId}); on a Chromebook, push the serverUrl and groupKey managed settings.`];
  }
}

async function refresh() {
  const st = (await send({ type: "status" })) || {};
  const b = st.backend || {};
  const cfg = st.config || {};
  const status = $("status");
  if (b.ok) {
    status.textContent = `Active: posts are checked before they are sent (${VIA[b.via] || "connected"}).`;
    status.dataset.problem = "";
    $("it").textContent = "";
  } else {
    const [what, it] = explain(b.problem, cfg);
    status.textContent = what + " " + (cfg.failMode === "block" ? "Posting waits until it is back."
      : "Posts are sent unchecked, and a record of each (without its text) is sent later.");
    status.dataset.problem = b.problem || "not-paired";
    $("it").textContent = it + (b.error ? ` Details: ${b.error}.` : "");
  }
  status.className = b.ok ? "ok" : "down";
  if (st.queued) { $("queued").hidden = false; $("queued").textContent = `${st.queued} record(s) waiting to be sent.`; }
  const p = st.policy;
  if (p) {
    $("notice").textContent = p.notice;
    $("district").textContent = `${p.district} — policy version ${p.digest}`;
    const ids = Object.keys(p.clauses);
    clauses($("personal"), ids.filter((i) => i.startsWith("P")), p.clauses);
    clauses($("sponsored"), ids.filter((i) => i.startsWith("D")), p.clauses);
  }
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
