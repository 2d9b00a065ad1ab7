// The operations picture, part 3: the events: alerts, the inbox (with acknowledgement) and the log.
"use strict";

// -- events: alerts, inbox, log ----------------------------------------------------------------
function addEvents(events, fresh = false) {
  let added = false, refresh = false;
  for (const e of events) {
    if (state.events.has(e.seq)) {
      if (e.log_seq && !state.events.get(e.seq).log_seq) state.events.get(e.seq).log_seq = e.log_seq;
      continue;
    }
    state.events.set(e.seq, {...e, fresh});
    state.lastSeq = Math.max(state.lastSeq, e.seq);
    trackMessage(e);
    trackItem(e);
    if (fresh && ALERTS[e.type]) status(`${ALERTS[e.type].label}: ${describe(e)}`);  // announced (aria-live)
    added = true;
    if (REFRESH_ON.has(e.type)) refresh = true;
  }
  if (added) renderSoon();
  if (refresh) refreshSoon();
}

// Events come in bursts (a batch of reports, a backlog): draw the lists once per burst.
let renderPending = false;
function renderSoon() {
  if (renderPending) return;
  renderPending = true;
  setTimeout(() => { renderPending = false; renderAlerts(); renderInbox(); renderLog(); renderItems(); renderBroadcasts(); }, 60);
}

function trackMessage(e) {
  if (!e.type.startsWith("message.") || !e.message) return;
  const m = state.messages.get(e.message) || {id: e.message, hops: [], state: "sent", level: null, acks: []};
  Object.assign(m, {from: e.from ?? m.from, to: e.to ?? m.to, kind: e.kind ?? m.kind, ref: e.ref ?? m.ref,
    broadcast: e.broadcast ?? m.broadcast});
  switch (e.type) {
    case "message.sent": m.text = e.text; m.sent = e.t; m.level = e.kind; break;
    case "message.relayed": if (!m.hops.includes(e.via)) m.hops.push(e.via); break;
    case "message.delivered": m.route = e.route; m.deadline = e.deadline; m.state = "delivered"; break;
    case "message.escalated": m.level = e.level; m.deadline = e.deadline; break;
    case "message.acknowledged":
      m.acks.push({by: e.by, as: e.as, t: e.t});
      if (e.as === "addressee") m.state = "acknowledged";
      break;
    case "message.unanswered": m.state = "unanswered"; break;
    case "message.resolved": m.state = "resolved"; m.resolved = e.reason; break;
    case "message.disowned": m.state = "disowned"; m.disowned = `${e.by}: ${e.reason}`; break;
    case "message.waiting": m.state = "waiting"; break;
    case "message.undeliverable": m.state = "undeliverable"; break;
    default: break;
  }
  state.messages.set(m.id, m);
}

// One line for every kind of event the engine emits; a kind this page does not know (a newer
// service) is still shown, with its plain fields.
function describe(e) {
  const win = (w) => (w ? `${shortTime(w.start) || "…"} → ${shortTime(w.end) || "…"}` : "");
  switch (e.type) {
    case "zone.approaching": case "zone.entered": case "zone.exited": case "zone.crossed":
      return `${e.track} (${e.party}) ${e.type.split(".")[1]} zone ${e.zone}`;
    case "proximity.predicted":
      return `${e.tracks.join(" and ")} (${e.parties.join(", ")}) predicted ${e.cpa_distance_m ?? "?"} m apart at ${shortTime(e.cpa_t)}`;
    case "separation.lost":
      return `${e.tracks.join(" and ")} (${e.parties.join(", ")}) ${e.distance_m ?? "?"} m apart`;
    case "plan.conflict":
      return `operation ${e.operation} meets ${e.other_kind} ${e.other} (${e.parties.join(", ")}), ${win(e.window)}`;
    case "plan.conflict_bound":
      return `operation ${e.operation} meets zone ${e.other}, which ${e.party} now agreed (${e.parties.join(", ")})`;
    case "plan.conflict_ended":
      return `operation ${e.operation} no longer meets ${e.other_kind} ${e.other}: ${e.reason}`;
    case "zone.declared":
      if (e.proposer && e.status !== "agreed") {
        return `zone ${e.zone} (${e.kind}) proposed by ${e.proposer} to ${e.parties.filter((p) => p !== e.proposer).join(", ")}`;
      }
      return `zone ${e.zone} (${e.kind}) agreed by ${e.parties.join(", ")}`;
    case "zone.agreed": return `zone ${e.zone} agreed by ${e.by}${e.status ? ` (now ${e.status.replace("_", " ")})` : ""}`;
    case "zone.declined": return `zone ${e.zone} declined by ${e.by}: ${e.reason}`;
    case "zone.amended": return `zone ${e.zone} amended by ${e.by}: version ${e.version}${e.status ? `, ${e.status.replace("_", " ")}` : ""}`;
    case "zone.withdrawn": return `zone ${e.zone} (version ${e.version}) withdrawn by ${e.by}: ${e.reason}`;
    case "operation.declared": return `operation ${e.operation} of ${e.party}`;
    case "operation.amended": return `operation ${e.operation} of ${e.party} amended: version ${e.version}`;
    case "operation.cancelled": return `operation ${e.operation} (version ${e.version}) cancelled by ${e.party}: ${e.reason}`;
    case "operation.activated": return `operation ${e.operation}${e.party ? ` of ${e.party}` : ""} is active`;
    case "operation.ended": return `operation ${e.operation}${e.party ? ` of ${e.party}` : ""} has ended`;
    case "broadcast.sent": return `area broadcast ${e.broadcast} (${e.kind}) from ${e.from}${e.window && e.window.end ? `, until ${shortTime(e.window.end)}` : ""}`;
    case "broadcast.reached":
      return `area broadcast ${e.broadcast} from ${e.from} reached ${e.party}${e.via === "broadcast_only" ? " (broadcast only: no line)" : ` (copy ${e.message})`}`;
    case "draft.checked":
      return `your draft ${e.draft_kind} ${e.draft} checked: ${e.conflicts} conflict(s) you may see, ${e.hidden} with items you were not told about`;
    case "draft.conflict":
      return `a draft ${e.draft_kind} of ${e.by} (${e.draft}) met your ${e.item_kind} ${e.item}, ${win(e.window)}`;
    case "message.sent":
      if (e.kind === "notification") return `${e.message}: notification of ${e.ref} from ${e.from} to ${e.to}`;
      if (e.broadcast) return `${e.message}: copy of area broadcast ${e.broadcast}, ${e.from} → ${e.to}`;
      return `${e.message}: ${e.from} → ${e.to}${e.kind ? ` (${e.kind})` : ""}`;
    case "message.acknowledged": return `${e.message} acknowledged by ${e.by}${e.as === "intermediary" ? " (as intermediary)" : ""}${e.late ? " (late)" : ""}`;
    case "message.ack_rejected": return `${e.message}: acknowledgement by ${e.by} refused: ${e.reason}`;
    case "message.relayed": return `${e.message} relayed by ${e.via}`;
    case "message.escalated": return `${e.message} escalated to ${e.level}`;
    case "message.disowned": return `${e.message} disowned by ${e.by}: ${e.reason}`;
    case "message.resolved": return `${e.message} resolved: ${e.reason}`;
    case "message.delivered": return `${e.message} delivered to ${e.to} over ${(e.route || []).join(" → ")}`;
    case "message.waiting": return `${e.message} from ${e.from} waits for a line to ${e.to}`;
    case "message.undeliverable": return `${e.message} from ${e.from} cannot reach ${e.to}: no line, direct or relayed`;
    case "message.unanswered": return `${e.message} to ${e.to} went unanswered`;
    case "channel.suspended": return `line ${(e.between || []).join(" – ")} suspended`;
    case "channel.resumed": return `line ${(e.between || []).join(" – ")} resumed`;
    case "incident.reported": return `incident ${e.incident} (${e.kind}) reported by ${e.reporter}`;
    default:
      if (e.type.startsWith("message.")) return `${e.message}: ${e.from} → ${e.to}${e.kind ? ` (${e.kind})` : ""}`;
      if (e.type.startsWith("channel.")) return `line ${(e.between || []).join(" – ")}`;
      return plainFields(e);
  }
}

function plainFields(e) {
  const shown = (v) => (Array.isArray(v) ? v.every((x) => typeof x !== "object") : typeof v !== "object");
  return Object.entries(e).filter(([k, v]) => !["seq", "t", "type", "fresh", "log_seq"].includes(k) && v !== null && shown(v))
    .map(([k, v]) => `${k.replace(/_/g, " ")} ${Array.isArray(v) ? v.join(", ") : v}`).join(" · ");
}

function renderAlerts() {
  const list = $("alerts");
  const alerts = [...state.events.values()].filter((e) => ALERTS[e.type]).sort((a, b) => b.seq - a.seq).slice(0, 300);
  $("count-alerts").textContent = alerts.length ? String(alerts.length) : "";
  list.replaceChildren(...alerts.map((e) => {
    const a = ALERTS[e.type];
    const li = document.createElement("li");
    const b = document.createElement("button");
    b.type = "button";
    b.className = `alert sev-${a.sev}`;
    b.dataset.seq = e.seq;
    b.dataset.type = e.type;
    b.innerHTML = `<span class="icon" aria-hidden="true">${a.icon}</span><span><span class="what"></span><br><span class="desc"></span><br><span class="when"></span></span>`;
    b.querySelector(".what").textContent = a.label;
    b.querySelector(".desc").textContent = describe(e);
    b.querySelector(".when").textContent = `#${e.seq} · ${shortTime(e.t)}`;
    b.addEventListener("click", () => flyToEvent(e));
    li.append(b);
    return li;
  }));
}

function flyToEvent(e) {
  layers.highlight.clearLayers();
  let target = null;
  if (e.lon !== undefined && e.lat !== undefined) target = L.latLng(e.lat, e.lon);
  else if (e.tracks) {
    const pts = state.units.filter((u) => e.tracks.includes(u.id)).map((u) => [u.lat, u.lon]);
    if (pts.length) target = L.latLngBounds(pts);
  } else if (e.type === "plan.conflict") {
    const layer = layers.byOperation.get(e.operation) || layers.byOperation.get(e.other) || layers.byZone.get(e.other);
    if (layer) target = layer.getBounds();
  }
  if (!target) { status(`No position to show for #${e.seq}.`); return; }
  if (target instanceof L.LatLng) {
    map.flyTo(target, Math.max(map.getZoom(), 9), {duration: 0.8});
    L.circleMarker(target, {radius: 16, color: "#D55E00", weight: 3, fill: false, dashArray: "4 3"}).addTo(layers.highlight);
  } else {
    map.flyToBounds(target.pad(0.3), {duration: 0.8, maxZoom: 10});
  }
}

function myRole(m) {
  const me = state.me.party;
  if (m.to === me) return "addressee";
  if ((m.route || []).slice(1, -1).includes(me)) return "intermediary";
  return null;
}

// The Acknowledge action stands while the message waits for this party's acknowledgement (delivered,
// or gone unanswered to it as addressee); the badge counts those.
function canAck(m) {
  const role = myRole(m);
  return !m.acks.some((a) => a.by === state.me.party) && (m.state === "delivered" || (role === "addressee" && m.state === "unanswered"));
}

function renderInbox() {
  const list = $("inbox");
  // those waiting for this party's acknowledgement first, then the newest
  const mine = [...state.messages.values()].filter((m) => myRole(m))
    .sort((a, b) => (canAck(b) - canAck(a)) || (b.sent || "").localeCompare(a.sent || ""));
  const open = mine.filter(canAck);
  $("count-inbox").textContent = open.length ? String(open.length) : "";
  list.replaceChildren(...mine.map(inboxEntry));
  tickDeadlines();
}

function inboxEntry(m) {
  const li = document.createElement("li");
  li.className = `msg${m.kind === "notification" ? " notification" : ""}${m.broadcast ? " area-copy" : ""}`;
  li.dataset.message = m.id;
  li.dataset.kind = m.kind || "";
  const role = myRole(m);
  const acked = m.acks.find((a) => a.by === state.me.party);
  const level = m.level || m.kind || "";
  li.innerHTML = `<div class="head"><span class="level"></span><strong class="from"></strong></div>
    <p class="text"></p><p class="route meta"></p><p class="ended meta"></p><p class="meta"><span class="state"></span> <span class="deadline"></span></p>`;
  const lv = li.querySelector(".level");
  lv.textContent = m.kind === "notification" && level !== "notification" ? `notification · ${level.replace("_", " ")}` : level.replace("_", " ");
  lv.classList.add(`level-${level}`);
  const what = m.kind === "notification" ? "notification" : m.broadcast ? `area broadcast ${m.broadcast}` : "";
  li.querySelector(".from").textContent = `${m.from} → ${m.to}${what ? ` (${what})` : ""}${role === "intermediary" ? " (you relay it)" : ""}`;
  li.querySelector(".text").textContent = m.text || `(${m.kind})`;
  const route = m.route ? m.route.join(" → ") : [m.from, ...m.hops, m.to].join(" → ");
  li.querySelector(".route").textContent = `${m.id} · route ${route} · ${m.route ? m.route.length - 2 : m.hops.length} relay hop(s)`;
  const gone = m.ref && state.ended.get(m.ref);
  li.querySelector(".ended").textContent = gone ? `${gone.what} ${m.ref} was ${endedText(gone)}` : "";
  const waiting = m.kind === "notification" ? "notification awaiting your acknowledgement" : "awaiting your acknowledgement";
  const said = {delivered: role === "intermediary" ? "awaiting your acknowledgement of receipt" : waiting, sent: "sent",
    waiting: "waiting for a line", resolved: `resolved${m.resolved ? `: ${m.resolved}` : ""}`}[m.state] || m.state;
  li.querySelector(".state").textContent = acked ? `acknowledged by you ${shortTime(acked.t)}` : said + (m.disowned ? ` (${m.disowned})` : "");
  const dl = li.querySelector(".deadline");
  if (m.deadline && m.state === "delivered" && !acked) dl.dataset.deadline = m.deadline;
  if (canAck(m)) {
    const b = document.createElement("button");
    b.type = "button";
    b.className = "ack primary";
    b.textContent = role === "intermediary" ? "Acknowledge receipt" : "Acknowledge";
    b.setAttribute("aria-label", `${b.textContent} ${m.id}`);
    b.addEventListener("click", () => acknowledge(m, b));
    li.append(b);
  }
  return li;
}

function tickDeadlines() {
  const now = serviceNow();
  for (const el of document.querySelectorAll(".deadline[data-deadline]")) {
    const left = Date.parse(el.dataset.deadline) - now;
    el.textContent = left >= 0 ? `due in ${duration(left)}` : `overdue ${duration(left)}`;
    el.classList.toggle("overdue", left < 0);
  }
  $("clock").textContent = `Service time ${shortTime(iso(now))}${state.clock.rate !== 1 ? ` (×${state.clock.rate})` : ""}`;
  $("slider-time").textContent = Number($("slider").value)
    ? `+${duration(Number($("slider").value) * 60000)} · ${shortTime(iso(sliderTime()))}` : `now · ${shortTime(iso(now))}`;
}

async function acknowledge(m, button) {
  button.disabled = true;
  try {
    const answer = await api(`/v1/messages/${encodeURIComponent(m.id).replace(/%2F/g, "/")}/ack`, {method: "POST"});
    addEvents(answer.events || [], true);  // shown at once; the stream brings the same events with their log position
    loadHead().catch(() => {});
    status(`Acknowledged ${m.id}.`);
  } catch (err) {
    button.disabled = false;
    status(`Could not acknowledge ${m.id}: ${err.message}`);
  }
}

function renderLog() {
  const list = $("log");
  const events = [...state.events.values()].sort((a, b) => b.seq - a.seq).slice(0, 400);
  list.replaceChildren(...events.map((e) => {
    const li = document.createElement("li");
    li.className = `log-row${e.fresh ? " fresh" : ""}`;
    li.dataset.seq = e.seq;
    li.dataset.type = e.type;
    li.innerHTML = `<span class="seq"></span><span><span class="type"></span> <span class="desc"></span><br><span class="when"></span></span>`;
    li.querySelector(".seq").textContent = `#${e.seq}`;
    li.querySelector(".type").textContent = e.type;
    li.querySelector(".desc").textContent = describe(e);
    li.querySelector(".when").textContent = `${shortTime(e.t)}${e.log_seq ? ` · log entry ${e.log_seq}` : ""}`;
    return li;
  }));
}

