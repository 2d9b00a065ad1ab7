// The operations picture: one party's view of zones, plans, units, alerts, messages and the signed log.
// Talks only to the public HTTP API (/v1/...) and the live stream. This part: the stream, tabs, sign-in.
"use strict";

// -- the live stream: fetch + ReadableStream (EventSource cannot send the token) ----------------
async function stream() {
  while (state.token) {
    const controller = new AbortController();
    state.abort = controller;
    try {
      const response = await fetch(`/v1/stream?after=${state.lastSeq}`, {signal: controller.signal,
        headers: {Authorization: `Bearer ${state.token}`, "Last-Event-ID": String(state.lastSeq), Accept: "text/event-stream"}});
      if (response.status === 401) { logout("The token is no longer valid."); return; }  // unknown or revoked (RFC 6750)
      if (!response.ok || !response.body) throw new Error(`stream: HTTP ${response.status}`);
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      for (;;) {
        const {value, done} = await reader.read();
        if (done) break;
        buffer += value.replace(/\r\n?/g, "\n");
        let cut;
        while ((cut = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          const data = block.split("\n").filter((l) => l.startsWith("data:")).map((l) => l.slice(5).replace(/^ /, "")).join("\n");
          if (data) addEvents([JSON.parse(data)], true);
        }
      }
    } catch (err) {
      if (controller.signal.aborted) return;
    }
    await new Promise((r) => setTimeout(r, 1500));  // then resume after the last event seen
  }
}

// -- tabs, login, start ------------------------------------------------------------------------
function setupTabs() {
  const tabs = [...document.querySelectorAll('[role="tab"]')];
  const select = (tab) => {
    for (const t of tabs) {
      const on = t === tab;
      t.setAttribute("aria-selected", String(on));
      t.tabIndex = on ? 0 : -1;
      $(t.getAttribute("aria-controls")).hidden = !on;
    }
    if (tab.id === "tab-log") loadHead().catch(() => {});
  };
  tabs.forEach((t, i) => {
    t.addEventListener("click", () => select(t));
    t.addEventListener("keydown", (e) => {
      const step = e.key === "ArrowRight" ? 1 : e.key === "ArrowLeft" ? -1 : 0;
      if (!step) return;
      const next = tabs[(i + step + tabs.length) % tabs.length];
      next.focus();
      select(next);
    });
  });
}

let statusTimer = null;
function status(text) {
  const el = $("whoami");
  const base = state.me ? `${state.me.name || state.me.party} (${state.me.party})${state.me.coordinator ? ", coordinator" : ""}` : "";
  el.textContent = `${base}${text ? ` · ${text}` : ""}`;
  clearTimeout(statusTimer);
  if (text) statusTimer = setTimeout(() => status(""), 6000);
}

function showFailure(err) { status(`update failed: ${err.message}`); }

async function login(token) {
  state.token = token;
  try {
    state.me = await api("/v1/me");
  } catch (err) {
    state.token = null;
    sessionStorage.removeItem(TOKEN_KEY);
    $("login-error").textContent = err.status === 401 ? "This token is unknown or revoked." : `Cannot sign in: ${err.message}`;
    return;
  }
  sessionStorage.setItem(TOKEN_KEY, token);
  $("login").hidden = true;
  $("picture").hidden = false;
  $("logout").hidden = false;
  status("");
  if (!map) initMap(); else map.invalidateSize();
  partyStyle(state.me.party);
  await syncClock();
  fillDrawDefaults();
  await Promise.all([loadZones(), loadOperations(), loadUnits()]);
  for (let page = 0; page < 100; page++) {  // the backlog, then the live stream from where it ends
    const batch = await api(`/v1/events?after=${state.lastSeq}&limit=10000`);
    addEvents(batch);
    if (batch.length < 10000) break;
  }
  // the zones and the area broadcasts sent or received
  const fit = L.featureGroup([...layers.byZone.values()]).getBounds();
  for (const b of state.broadcasts.values()) if (b.area) fit.extend(bounds(b.area));
  if (fit.isValid()) map.fitBounds(fit.pad(0.15));
  loadHead().catch(() => {});
  document.body.dataset.ready = "true";  // loaded: the backlog is in, the map fitted (tests wait for this)
  stream();
}

function logout(message = "") {
  if (state.abort) state.abort.abort();
  sessionStorage.removeItem(TOKEN_KEY);
  if (message) sessionStorage.setItem(NOTICE_KEY, message);
  window.location.reload();
}

function main() {
  setupTabs();
  setupDrawForm();
  $("login-form").addEventListener("submit", (e) => { e.preventDefault(); $("login-error").textContent = ""; login($("token").value.trim()); });
  $("logout").addEventListener("click", () => logout());
  $("verify").addEventListener("click", verifyLog);
  $("slider").addEventListener("input", () => { renderZones(); renderOperations(); renderBroadcasts(); renderUnits(); tickDeadlines(); });
  setInterval(tickDeadlines, 1000);
  setInterval(() => { if (state.me) loadUnits().catch(showFailure); }, 2000);
  setInterval(() => { if (state.me) syncClock().catch(() => {}); }, 5000);
  setInterval(() => { if (state.me) { renderOperations(); renderItems(); } }, 30000);  // planned -> active -> ended as time goes
  $("login-error").textContent = sessionStorage.getItem(NOTICE_KEY) || "";
  sessionStorage.removeItem(NOTICE_KEY);
  const saved = sessionStorage.getItem(TOKEN_KEY);
  if (saved) login(saved);
}

main();
