// The web UI: logs in where it must, shows one view at a time (the part of
// the URL after #), keeps the views fresh from mnigsd's events, and says so
// when mnigsd is away.
import { rpc, session, login, logout, watch } from "./rpc.js";
import { followEvents } from "./events.js";
import { el, daemonTime, showError, fill } from "./ui.js";
import { state } from "./state.js";
import { sample, loadHistory } from "./sampler.js";
import gateways from "./views/gateways.js";
import connection from "./views/connection.js";
import gateway from "./views/gateway.js";
import mesh from "./views/mesh.js";
import settings from "./views/settings.js";
import events from "./views/events.js";

const views = { gateways, connection, gateway, mesh, settings, events };
const main = document.getElementById("main");
const banner = document.getElementById("banner");
const nav = document.getElementById("nav");
let current = null;
let loggingIn = false;
let me = null;

function say(text, kind = "info") {
  banner.hidden = !text;
  banner.textContent = text || "";
  banner.className = kind;
}

async function show() {
  if (loggingIn) return;
  const name = (location.hash || "#gateways").slice(1);
  const view = views[name] || gateways;
  if (current && current.view === view) return;
  if (current && current.view.unmount) current.view.unmount();
  for (const a of nav.querySelectorAll("a")) a.setAttribute("aria-current", a.hash === `#${name}` ? "page" : "false");
  const box = el("section", { "aria-labelledby": "view-title" });
  fill(main, box);
  current = { view, box };
  document.title = `mnigs · ${view.title}`;
  try {
    await view.mount(box);
  } catch (e) {
    showError(box, e);
  }
}

async function refresh() {
  if (loggingIn || !me || !me.admin) return;
  try {
    await sample();
  } catch (e) { /* said by the view's own calls */ }
  if (current && current.view.refresh && !loggingIn) {
    try {
      await current.view.refresh();
      showError(current.box, null);
    } catch (e) {
      if (!e.login && e.code !== -1) showError(current.box, e);
    }
  }
}

function showLogin(reason, info) {
  if (loggingIn) return;
  loggingIn = true;
  if (current && current.view.unmount) current.view.unmount();
  current = null;
  nav.hidden = true;
  const password = el("input", { type: "password", id: "secret", autocomplete: "current-password", required: true });
  const useToken = el("input", { type: "checkbox", id: "use-token" });
  const label = el("label", { for: "secret" }, "Password");
  useToken.addEventListener("change", () => {
    label.textContent = useToken.checked ? "Admin token" : "Password";
    password.autocomplete = useToken.checked ? "off" : "current-password";
  });
  const submit = el("button", { type: "submit" }, "Log in");
  const why = reason === "expired" ? "Your login has ended. Log in again." : "This node asks who you are.";
  const form = el("form", { class: "login", onsubmit: async (e) => {
    e.preventDefault();
    submit.disabled = true;
    showError(form, null);
    try {
      await login(useToken.checked ? "token" : "password", password.value);
      password.value = "";
      loggingIn = false;
      await start();
    } catch (err) {
      showError(form, err.retryAfter ? new Error(`${err.message}`) : err);
      password.select();
    } finally {
      submit.disabled = false;
    }
  } },
  el("h1", { id: "view-title" }, "Log in"),
  el("p", null, why),
  info && !info.passwordSet ? el("p", { class: "note" }, "No password is set on this node yet: run mnigs-cli --set-password there, or log in with the admin token (the file admin.token in its data directory).") : null,
  el("p", null, label, password),
  el("p", null, el("label", null, useToken, " Log in with the admin token instead")),
  el("p", null, submit));
  fill(main, form);
  document.title = "mnigs · Log in";
  password.focus();
}

function showWho(info) {
  const who = document.getElementById("who");
  fill(who);
  if (info.via === "login")
    who.append(`logged in from ${info.address} `, el("button", { type: "button", onclick: async () => {
      try {
        await logout();
      } finally {
        location.reload();
      }
    } }, "Log out"));
  else if (info.via === "network") who.append(`local (${info.address})`);
}

async function start() {
  me = await session();
  daemonTime(me.time);
  if (!me.admin) return showLogin(me.login === "expired" ? "expired" : "required", me);
  nav.hidden = false;
  showWho(me);
  try {
    const status = await rpc("status");
    daemonTime(status.time);
    document.getElementById("node-name").textContent = `“${status.name}”`;
    await loadHistory();
  } catch (e) { /* shown by the view */ }
  await show();
}

watch((e) => {
  // A login made in another tab replaced this one's: its new CSRF token is
  // one /session away, no new login needed.
  if (e.type === "login")
    session().then((info) => {
      if (!info.admin) showLogin(e.reason, info);
    }).catch(() => showLogin(e.reason, null));
  if (e.type === "online") {
    if (!e.online) say("mnigsd does not answer; trying again…", "warn");
    else {
      say("");
      if (!loggingIn) start().catch(() => {});
    }
  }
});

window.addEventListener("hashchange", show);
// The skip link moves the focus to the view without changing the view.
document.querySelector(".skip").addEventListener("click", (e) => {
  e.preventDefault();
  main.focus();
});

followEvents((e, old) => {
  state.log.push(e);
  if (state.log.length > 500) state.log.shift();
  if (!old && current && current.view.onEvent) current.view.onEvent(e);
}, {
  onMissed: () => { state.log.length = 0; refresh(); },
  onTime: daemonTime,
  isPaused: () => loggingIn || !me || !me.admin,
});

// Every 5 s, never two at once (a slow router may take longer).
let refreshing = false;
setInterval(async () => {
  if (refreshing) return;
  refreshing = true;
  try {
    await refresh();
  } finally {
    refreshing = false;
  }
}, 5000);
start().catch((e) => {
  fill(main, el("p", { class: "error", role: "alert" }, `mnigsd: ${e.message}`));
  setTimeout(() => location.reload(), 5000);
});
