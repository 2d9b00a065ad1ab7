// The operations picture, part 4: zones, operations and area broadcasts as lists (status, version,
// who agreed and when, withdrawals and cancellations), the answer to a proposed zone, and broadcasts on the map.
"use strict";

// -- what the log says of items: withdrawals, cancellations, broadcasts ----------------------------
function trackItem(e) {
  switch (e.type) {
    case "zone.withdrawn":
      state.ended.set(e.zone, {what: "zone", verb: "withdrawn", by: e.by, reason: e.reason, t: e.t, version: e.version});
      break;
    case "operation.cancelled":
      state.ended.set(e.operation, {what: "operation", verb: "cancelled", by: e.party, reason: e.reason, t: e.t, version: e.version});
      break;
    case "broadcast.sent":
      state.broadcasts.set(e.broadcast, {...(state.broadcasts.get(e.broadcast) || {reached: []}),
        id: e.broadcast, from: e.from, kind: e.kind, text: e.text, area: e.area, window: e.window, t: e.t});
      break;
    case "broadcast.reached": {
      const b = state.broadcasts.get(e.broadcast) || {id: e.broadcast, from: e.from, reached: []};
      if (!b.reached.some((r) => r.party === e.party)) b.reached.push({party: e.party, t: e.t, via: e.via, message: e.message});
      // reached later than it was sent: the service gives what the broadcast said with the reach
      // (its broadcast.sent is older than what the page has read)
      if (!b.area && e.sent) Object.assign(b, {kind: e.sent.kind, text: e.sent.text, area: e.sent.area, window: e.sent.window, t: e.sent.t});
      state.broadcasts.set(e.broadcast, b);
      break;
    }
    default: break;
  }
}

// -- an operation's state: as the service lists it (its events told it), or cancelled by an event
// the page has read before the list caught up -------------------------------------------------------
function operationState(op) {
  if (state.ended.has(op.id)) return "cancelled";
  return op.state || null;  // another party's plan known only by its conflict comes without one
}

function withdrawal(id, item) {
  const end = state.ended.get(id);
  if (end) return end;
  const w = item && (item.withdrawn || item.cancelled);
  return w ? {verb: item.withdrawn ? "withdrawn" : "cancelled", by: w.by, reason: w.reason, t: w.at} : null;
}

// The version the list gave (another party's plan known only by its conflict comes without one).
function versionOf(item) {
  return item.version || null;
}

const endedText = (w) => `${w.verb} by ${w.by} at ${shortTime(w.t)}: ${w.reason}`;

function zoneStanding(z) {
  // what the map label and the list say of a zone's agreement
  const agreed = (z.agreed || []).map((a) => a.party);
  const declined = (z.declined || []).map((d) => d.party);
  if (z.status === undefined || z.status === "agreed") return {cls: "agreed", text: `agreed by ${(agreed.length ? agreed : z.parties).join(", ")}`};
  const parts = [`proposed by ${z.proposer}`];
  if (agreed.length > 1) parts.push(`agreed by ${agreed.filter((p) => p !== z.proposer).join(", ")}`);
  if ((z.pending || []).length) parts.push(`awaiting ${z.pending.join(", ")}`);
  if (declined.length) parts.push(`declined by ${declined.join(", ")}`);
  return {cls: declined.length ? "declined" : "proposed", text: parts.join(", ")};
}

function awaitingMe(z) {
  return !withdrawal(z.id, z) && (z.pending || []).includes(state.me.party);
}

// -- the Items tab ------------------------------------------------------------------------------------
function renderItems() {
  if (!state.me) return;
  const awaiting = state.zones.filter(awaitingMe);
  $("count-items").textContent = awaiting.length ? String(awaiting.length) : "";
  // an event may come while a decline is being written: keep what was typed, and the focus
  const typed = new Map([...document.querySelectorAll("#zones-list .answer")].map((box) =>
    [box.dataset.zone, {open: !box.querySelector(".why").hidden, text: box.querySelector("textarea").value}]));
  const focused = document.activeElement && document.activeElement.closest("#zones-list .answer") ? document.activeElement.className : null;
  const focusedZone = focused && document.activeElement.closest(".answer").dataset.zone;
  $("zones-list").replaceChildren(...emptyOr(state.zones.map(zoneEntry), "No zone you may see."));
  for (const box of document.querySelectorAll("#zones-list .answer")) {
    const was = typed.get(box.dataset.zone);
    if (was) { box.querySelector(".why").hidden = !was.open; box.querySelector("textarea").value = was.text; }
    if (focusedZone === box.dataset.zone) {
      const el = box.querySelector(focused.split(" ").filter(Boolean).map((c) => `.${c}`).join("") || "textarea");
      if (el) el.focus();
    }
  }
  $("operations-list").replaceChildren(...emptyOr(state.operations.map(operationEntry), "No operation you may see."));
  const broadcasts = [...state.broadcasts.values()].filter((b) => b.area).sort((a, b) => (b.t || "").localeCompare(a.t || ""));
  $("broadcasts-list").replaceChildren(...emptyOr(broadcasts.map(broadcastEntry), "No area broadcast sent or received."));
}

function emptyOr(items, text) {
  if (items.length) return items;
  const li = document.createElement("li");
  li.className = "empty hint";
  li.textContent = text;
  return [li];
}

function entry(attrs, title, lines) {
  const li = document.createElement("li");
  li.className = "item";
  Object.assign(li.dataset, attrs);
  const h = document.createElement("p");
  h.className = "title";
  h.textContent = title;
  li.append(h);
  for (const [cls, text] of lines) {
    if (!text) continue;
    const p = document.createElement("p");
    p.className = `meta ${cls}`;
    p.textContent = text;
    li.append(p);
  }
  return li;
}

function zoneEntry(z) {
  const w = withdrawal(z.id, z), standing = zoneStanding(z);
  const li = entry({zone: z.id, status: w ? "withdrawn" : standing.cls}, `${z.name || z.id} (${z.id}) · ${z.kind.replace("_", " ")} zone`, [
    ["standing", w ? `${standing.text}; withdrawn` : standing.text[0].toUpperCase() + standing.text.slice(1)],
    ["agreed", (z.agreed || []).length ? `Agreed: ${z.agreed.map((a) => `${a.party} ${shortTime(a.at)}`).join(", ")}` : ""],
    ["declined", (z.declined || []).map((d) => `Declined by ${d.party} ${shortTime(d.at)}: ${d.reason}`).join("; ")],
    ["version", versionOf(z) ? `Version ${versionOf(z)}` : ""],
    ["notified", notifiedText(z.id)],
    ["withdrawn", w ? `Withdrawn by ${w.by} at ${shortTime(w.t)}: ${w.reason}` : ""],
  ]);
  if (!w) li.append(showButton(z.id, layers.byZone));
  if (awaitingMe(z)) li.append(answerForm(z));
  return li;
}

function operationEntry(op) {
  const w = withdrawal(op.id, op), st = operationState(op);
  const whose = op.party === state.me.party ? "your plan" : op.notified ? `plan of ${op.party}, notified to you` : `plan of ${op.party}`;
  const li = entry({operation: op.id, state: st || ""}, `${op.id} (${whose})`, [
    ["state", st ? `State: ${st}${op.volumes ? ` · ${windowText(op)}` : ""}` : ""],
    ["version", versionOf(op) ? `Version ${versionOf(op)}` : ""],
    ["conflicts", op.conflicts_with ? `Conflicts with your ${op.conflicts_with.join(", ")}` : ""],
    ["notified", notifiedText(op.id)],
    ["withdrawn", w ? `Cancelled by ${w.by} at ${shortTime(w.t)}: ${w.reason}` : ""],
  ]);
  if (!w && op.volumes) li.append(showButton(op.id, layers.byOperation));
  return li;
}

function windowText(op) {
  const w = op.volumes.map((v) => v.window).filter(Boolean)[0] || {};
  return w.start || w.end ? `${shortTime(w.start) || "…"} → ${shortTime(w.end) || "…"}` : "any time";
}

function notifiedText(id) {
  // the notifications this party sent of its item, and whether each was acknowledged
  const sent = [...state.messages.values()].filter((m) => m.kind === "notification" && m.ref === id && m.from === state.me.party);
  if (!sent.length) return "";
  return `Notified to ${sent.map((m) => `${m.to} (${m.state === "acknowledged" ? "acknowledged" : m.state === "delivered" ? "awaiting acknowledgement" : m.state})`).join(", ")}`;
}

function broadcastEntry(b) {
  const mine = b.from === state.me.party;
  const reached = b.reached.map((r) => `${r.party} ${shortTime(r.t)}${r.via === "broadcast_only" ? " (broadcast only: no line)" : ""}`);
  const me = b.reached.find((r) => r.party === state.me.party);
  return entry({broadcast: b.id}, `Broadcast ${b.id} (${b.kind}) from ${mine ? "you" : b.from}`, [
    ["text", b.text ? `“${b.text}”` : ""],
    ["sent", `Sent ${shortTime(b.t)}${b.window && b.window.end ? `, stands until ${shortTime(b.window.end)}` : ""}`],
    ["reached", mine ? (reached.length ? `Reached ${reached.join(", ")}` : "Reached nobody so far") : me ? `Reached you ${shortTime(me.t)}` : ""],
  ]);
}

function showButton(id, byId) {
  const b = document.createElement("button");
  b.type = "button";
  b.className = "show";
  b.textContent = "Show on map";
  b.setAttribute("aria-label", `Show ${id} on the map`);
  b.addEventListener("click", () => {
    const layer = byId.get(id);
    if (layer) map.flyToBounds(layer.getBounds().pad(0.3), {duration: 0.8, maxZoom: 11});
    else status(`${id} is not on the map at this time.`);
  });
  return b;
}

// -- agreeing or declining a zone the viewer is named in ------------------------------------------------
function answerForm(z) {
  const box = document.createElement("div");
  box.className = "answer";
  box.dataset.zone = z.id;
  box.innerHTML = `<p class="ask"></p><div class="tools"><button type="button" class="agree primary">Agree</button>
    <button type="button" class="decline">Decline</button></div>
    <div class="why" hidden><label></label><textarea rows="2"></textarea>
    <button type="button" class="send-decline">Send decline</button></div><p class="answer-error" role="alert"></p>`;
  box.querySelector(".ask").textContent = `${z.proposer} asks you to agree this zone: it binds you once you agree.`;
  const id = `why-${z.id.replace(/[^A-Za-z0-9_-]/g, "_")}`;
  box.querySelector("label").textContent = `Why you decline ${z.id}`;
  box.querySelector("label").htmlFor = id;
  box.querySelector("textarea").id = id;
  box.querySelector(".agree").setAttribute("aria-label", `Agree zone ${z.id}`);
  box.querySelector(".decline").setAttribute("aria-label", `Decline zone ${z.id}`);
  box.querySelector(".agree").addEventListener("click", (ev) => answer(z, "agree", null, ev.target, box));
  box.querySelector(".decline").addEventListener("click", () => {
    box.querySelector(".why").hidden = false;
    box.querySelector("textarea").focus();
  });
  box.querySelector(".send-decline").addEventListener("click", (ev) =>
    answer(z, "decline", box.querySelector("textarea").value, ev.target, box));
  return box;
}

async function answer(z, verb, reason, button, box) {
  button.disabled = true;
  box.querySelector(".answer-error").textContent = "";
  try {
    const path = `/v1/zones/${encodeURIComponent(z.id).replace(/%2F/g, "/")}/${verb}`;
    const result = await api(path, {method: "POST", ...(verb === "decline" ? {body: {reason}} : {})});
    addEvents(result.events || [], true);
    status(`${verb === "agree" ? "Agreed" : "Declined"} zone ${z.id}.`);
    await loadZones();
  } catch (err) {
    button.disabled = false;
    box.querySelector(".answer-error").textContent = `Could not ${verb}: ${err.message}`;
  }
}

// -- area broadcasts on the map -----------------------------------------------------------------------
function renderBroadcasts() {
  layers.broadcasts.clearLayers();
  pruneMetric();
  const t = sliderTime();
  for (const b of state.broadcasts.values()) {
    if (!b.area) continue;
    const {color} = partyStyle(b.from);
    const on = activeAt({start: b.t, end: b.window && b.window.end}, t);
    const style = {color, weight: 2.5, dashArray: "1 7", lineCap: "round", fillColor: color, fillOpacity: on ? 0.1 : 0.02,
      opacity: on ? 0.9 : 0.35, bandOpacity: on ? 0.15 : 0.05, className: "broadcast-area"};
    const group = L.featureGroup(shapeLayers(b.area, style));
    const mine = b.from === state.me.party, me = b.reached.find((r) => r.party === state.me.party);
    const reach = mine ? (b.reached.length ? `reached ${b.reached.map((r) => `${r.party} ${shortTime(r.t)}`).join(", ")}` : "reached nobody so far")
      : me ? `reached you ${shortTime(me.t)}` : "";
    const text = b.text && b.text.length > 90 ? `${b.text.slice(0, 88)}…` : b.text || "";
    label(group, b.area, `<strong>Broadcast ${escapeXml(b.id)}</strong> from ${escapeXml(mine ? "you" : b.from)}`
      + `<span class="details">${escapeXml(text)}</span><span class="details reach">${escapeXml(reach)}</span>`, "broadcast-label");
    group.addTo(layers.broadcasts);
  }
  reweigh();
}
