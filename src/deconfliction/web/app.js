// The operations picture: one party's view of zones, plans, units, alerts, messages and the signed log.
// Talks only to the public HTTP API (/v1/...) and the live stream; no build step.
"use strict";

const TOKEN_KEY = "deconfliction.token";
const NOTICE_KEY = "deconfliction.notice";
const PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#D55E00", "#56B4E9", "#F0E442"];  // Okabe-Ito
const SHAPES = ["circle", "square", "triangle", "diamond", "pentagon", "hexagon", "star"];
const ZONE_STYLE = {  // by kind: colour, dash pattern and fill, so kinds differ without colour too
  deconfliction: {color: "#0072B2", dashArray: null, fillOpacity: 0.08},
  protected_site: {color: "#009E73", dashArray: "2 6", fillOpacity: 0.16},
  restricted: {color: "#D55E00", dashArray: "10 5", fillOpacity: 0.12},
  corridor: {color: "#CC79A7", dashArray: "14 4 2 4", fillOpacity: 0.12},
};
const ALERTS = {
  "zone.approaching": {icon: "◔", label: "Approaching", sev: "mid"},
  "zone.entered": {icon: "●", label: "Entered", sev: "high"},
  "zone.crossed": {icon: "⨯", label: "Crossed", sev: "high"},
  "proximity.predicted": {icon: "◇", label: "Predicted proximity", sev: "mid"},
  "separation.lost": {icon: "◆", label: "Separation lost", sev: "high"},
  "plan.conflict": {icon: "▲", label: "Plan conflict", sev: "mid"},
};
const REFRESH_ON = new Set(["zone.declared", "operation.declared", "plan.conflict", "message.delivered",
  "zone.approaching", "zone.entered", "zone.exited", "proximity.predicted", "separation.lost"]);

const $ = (id) => document.getElementById(id);
const state = {
  token: null, me: null, events: new Map(), lastSeq: 0, messages: new Map(), zones: [], operations: [],
  units: [], clock: {service: Date.now(), local: Date.now(), rate: 1}, abort: null, drawn: null, checked: null,
};
let map, layers, partyStyles = new Map();

// -- HTTP --------------------------------------------------------------------------------------
class ApiError extends Error {
  constructor(status, body) {
    const e = (body && body.error) || {};
    const details = (e.details || []).map((d) => (d.path ? `${d.path}: ${d.reason}` : d.reason));
    super(details.length ? details.join("; ") : (e.message || `HTTP ${status}`));
    this.status = status;
    this.code = e.code;
  }
}

async function api(path, options = {}) {
  const headers = {...(options.headers || {})};
  if (state.token) headers.Authorization = `Bearer ${state.token}`;
  if (options.body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, {...options, headers,
    body: options.body === undefined ? undefined : JSON.stringify(options.body)});
  const text = await response.text();
  let body = null;
  try { body = text ? JSON.parse(text) : null; } catch (_) { body = null; }
  if (!response.ok) throw new ApiError(response.status, body);
  return body;
}

// -- time --------------------------------------------------------------------------------------
function serviceNow() {
  const c = state.clock;
  return c.service + (Date.now() - c.local) * c.rate;
}

async function syncClock() {
  const health = await api("/v1/health");
  const service = Date.parse(health.time), local = Date.now();
  const c = state.clock;
  if (!c.first) c.first = {service, local};
  if (local - c.first.local > 3000) {  // the demo may run the service clock faster than real time
    const rate = (service - c.first.service) / (local - c.first.local);
    c.rate = !Number.isFinite(rate) || rate <= 0 ? 1 : Number(rate.toPrecision(2));  // 302.4 -> 300, 1.01 -> 1
  }
  Object.assign(c, {service, local});
}

const iso = (ms) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
const shortTime = (text) => (text ? text.replace("T", " ").replace(/(:\d\d)(\.\d+)?Z$/, "$1Z") : "");
function duration(ms) {
  const s = Math.round(Math.abs(ms) / 1000), h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
  const pad = (n) => String(n).padStart(2, "0");
  return h ? `${h}h${pad(m)}m` : `${m}:${pad(s % 60)}`;
}

// -- parties: a colour and a shape each ---------------------------------------------------------
function partyStyle(party) {
  if (!partyStyles.has(party)) {
    let h = 0;
    for (const ch of party) h = (h * 31 + ch.charCodeAt(0)) >>> 0;
    let i = h % PALETTE.length;
    const used = new Set([...partyStyles.values()].map((s) => s.index));
    for (let k = 0; k < PALETTE.length && used.has(i); k++) i = (i + 1) % PALETTE.length;
    partyStyles.set(party, {index: i, color: PALETTE[i], shape: SHAPES[i]});
    renderLegend();
  }
  return partyStyles.get(party);
}

function symbolSvg(party, size = 22) {
  const {color, shape} = partyStyle(party);
  const r = size / 2, c = r, pts = (n, rot = -Math.PI / 2, inner = 0) => {
    const out = [];
    for (let k = 0; k < n * (inner ? 2 : 1); k++) {
      const rad = inner && k % 2 ? inner : r - 2;
      const a = rot + (k * Math.PI * 2) / (n * (inner ? 2 : 1));
      out.push(`${(c + rad * Math.cos(a)).toFixed(1)},${(c + rad * Math.sin(a)).toFixed(1)}`);
    }
    return out.join(" ");
  };
  const body = {
    circle: `<circle cx="${c}" cy="${c}" r="${r - 2}"/>`,
    square: `<rect x="2" y="2" width="${size - 4}" height="${size - 4}"/>`,
    triangle: `<polygon points="${pts(3)}"/>`,
    diamond: `<polygon points="${pts(4)}"/>`,
    pentagon: `<polygon points="${pts(5)}"/>`,
    hexagon: `<polygon points="${pts(6, 0)}"/>`,
    star: `<polygon points="${pts(5, -Math.PI / 2, r / 2.3)}"/>`,
    cross: `<polygon points="${[[7, 2], [15, 2], [15, 7], [20, 7], [20, 15], [15, 15], [15, 20], [7, 20], [7, 15], [2, 15], [2, 7], [7, 7]]
      .map(([x, y]) => `${(x * size) / 22},${(y * size) / 22}`).join(" ")}"/>`,
  }[shape];
  const letter = escapeXml(party.charAt(0).toUpperCase());
  const textColor = ["#F0E442", "#E69F00", "#56B4E9"].includes(color) ? "#000" : "#fff";
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${size}" height="${size}" viewBox="0 0 ${size} ${size}" aria-hidden="true">`
    + `<g fill="${color}" stroke="#000" stroke-width="1.5">${body}</g>`
    + `<text x="${c}" y="${c + 4}" text-anchor="middle" font-size="${size / 2}" font-weight="700" fill="${textColor}" font-family="sans-serif">${letter}</text></svg>`;
}

function escapeXml(s) {
  return String(s).replace(/[&<>"']/g, (ch) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[ch]));
}

// -- the map -----------------------------------------------------------------------------------
function metresPerPixel(lat) {
  return (40075016.686 * Math.cos((lat * Math.PI) / 180)) / Math.pow(2, map.getZoom() + 8);
}

// A line whose stroke is a width in metres on the ground (corridors, bands), re-weighted on zoom.
function metricLine(latlngs, widthM, style, renderer) {
  const line = L.polyline(latlngs, {...style, renderer, interactive: false});
  line._widthM = widthM;
  layers.metric.push(line);
  return line;
}

function reweigh() {
  const lat = map.getCenter().lat;
  for (const line of layers.metric) line.setStyle({weight: Math.max(2, line._widthM / metresPerPixel(lat))});
}

function toLatLngs(coords) { return coords.map(([lon, lat]) => [lat, lon]); }

function shapeLayers(geometry, style, bandM = 0, bandStyle = null) {
  // the shape, and its perimeter band drawn as a stroke bandM wide outside its edge
  const out = [];
  const g = geometry;
  if (g.type === "Point") {
    const centre = [g.coordinates[1], g.coordinates[0]];
    if (bandM > 0) out.push(L.circle(centre, {...bandStyle, radius: g.radius_m + bandM, fill: false}));
    out.push(L.circle(centre, {...style, radius: g.radius_m}));
  } else if (g.type === "Polygon" || g.type === "MultiPolygon") {
    const polys = g.type === "Polygon" ? [g.coordinates] : g.coordinates;
    for (const rings of polys) {
      if (bandM > 0) for (const ring of rings) out.push(metricLine(toLatLngs(ring), 2 * bandM, {...bandStyle, opacity: 0.2, dashArray: null}));
      out.push(L.polygon(rings.map(toLatLngs), style));
    }
  } else if (g.type === "LineString") {
    const ll = toLatLngs(g.coordinates);
    if (bandM > 0) out.push(metricLine(ll, g.width_m + 2 * bandM, {...bandStyle, opacity: 0.18, lineCap: "round", lineJoin: "round"}));
    out.push(metricLine(ll, g.width_m, {...style, opacity: 0.35, lineCap: "round", lineJoin: "round"}));
    out.push(L.polyline(ll, {...style, weight: 2, fill: false}));
  }
  return out;
}

function bounds(geometry) {
  const g = geometry;
  if (g.type === "Point") return L.latLng(g.coordinates[1], g.coordinates[0]).toBounds(2 * (g.radius_m || 1000));
  const flat = JSON.stringify(g.coordinates).match(/-?[\d.e+-]+,-?[\d.e+-]+/g) || [];
  return L.latLngBounds(flat.map((p) => { const [lon, lat] = p.split(",").map(Number); return [lat, lon]; }));
}

function initMap() {
  // no fade: a refresh swaps labels at once instead of showing old and new together for a moment
  map = L.map("map", {zoomControl: true, worldCopyJump: true, keyboard: true, fadeAnimation: false}).setView([33.5, 38.6], 7);
  map.attributionControl.setPrefix(false);
  map.attributionControl.addAttribution("Country outlines: Natural Earth (world-atlas)");
  const basemap = L.canvas({padding: 0.5});
  layers = {
    countries: L.layerGroup().addTo(map), zones: L.layerGroup().addTo(map), operations: L.layerGroup().addTo(map),
    units: L.layerGroup().addTo(map), draw: L.layerGroup().addTo(map), highlight: L.layerGroup().addTo(map),
    metric: [], tiles: null, byZone: new Map(), byOperation: new Map(),
  };
  fetch("web/vendor/world-atlas/countries-50m.json").then((r) => r.json()).then((topo) => {
    const land = topojson.feature(topo, topo.objects.countries);
    L.geoJSON(land, {renderer: basemap, interactive: false,
      style: {color: "#8a8a8a", weight: 0.8, fillColor: "#f4f1ea", fillOpacity: 1}}).addTo(layers.countries);
  });
  map.on("zoomend", reweigh);
  map.on("click", onMapClick);
  const legend = L.control({position: "bottomleft"});
  legend.onAdd = () => { const div = L.DomUtil.create("div", "legend"); div.id = "legend"; return div; };
  legend.addTo(map);
  $("tiles").addEventListener("change", (e) => {
    if (e.target.checked) {
      layers.tiles = L.tileLayer("https://tile.openstreetmap.org/{z}/{x}/{y}.png",
        {maxZoom: 18, attribution: "© OpenStreetMap contributors"}).addTo(map);
      layers.tiles.bringToBack();
    } else if (layers.tiles) {
      map.removeLayer(layers.tiles);
      layers.tiles = null;
    }
  });
}

function renderLegend() {
  const div = $("legend");
  if (!div) return;
  const zoneItems = Object.entries(ZONE_STYLE).map(([kind, s]) =>
    `<li><svg width="26" height="12" aria-hidden="true"><line x1="1" y1="6" x2="25" y2="6" stroke="${s.color}" stroke-width="3" stroke-dasharray="${s.dashArray || ""}"/></svg>${escapeXml(kind.replace("_", " "))} zone</li>`);
  const parties = [...partyStyles.keys()].sort().map((p) =>
    `<li>${symbolSvg(p, 16)}${escapeXml(p)}${state.me && p === state.me.party ? " (you)" : ""}</li>`);
  div.innerHTML = `<ul>${parties.join("")}${zoneItems.join("")}<li><svg width="26" height="12" aria-hidden="true"><line x1="1" y1="6" x2="25" y2="6" stroke="#555" stroke-width="2" stroke-dasharray="3 5"/></svg>perimeter band</li>`
    + `<li><svg width="26" height="12" aria-hidden="true"><rect x="2" y="2" width="22" height="8" fill="none" stroke="#555" stroke-width="2" stroke-dasharray="6 6"/></svg>planned operation (party colour)</li>`
    + `<li><svg width="26" height="12" aria-hidden="true"><line x1="1" y1="6" x2="25" y2="6" stroke="#555" stroke-width="3" stroke-dasharray="4 4"/></svg>trail of another party's unit</li></ul>`;
}

// -- zones, operations, units ------------------------------------------------------------------
function sliderTime() { return serviceNow() + Number($("slider").value) * 60000; }

function activeAt(window, t) {
  if (!window) return true;
  const start = window.start ? Date.parse(window.start) : -Infinity, end = window.end ? Date.parse(window.end) : Infinity;
  return start <= t && t < end;
}

// A label at the top edge of a shape, so that it names the shape without hiding what is inside.
function label(group, geometry, html, cls) {
  let at;
  if (geometry.type === "Point") {
    at = L.latLng(geometry.coordinates[1] + (geometry.radius_m || 0) / 111320, geometry.coordinates[0]);
  } else {
    const b = bounds(geometry);
    at = L.latLng(b.getNorth(), b.getCenter().lng);
  }
  group.addLayer(L.tooltip({permanent: true, direction: "top", className: `map-label ${cls}`, interactive: false})
    .setLatLng(at).setContent(html));
}

function pruneMetric() { layers.metric = layers.metric.filter((l) => map.hasLayer(l)); }

function renderZones() {
  layers.zones.clearLayers();
  layers.byZone.clear();
  pruneMetric();
  const t = sliderTime();
  for (const z of state.zones) {
    const s = ZONE_STYLE[z.kind] || ZONE_STYLE.deconfliction;
    const on = activeAt(z.window, t);
    const style = {color: s.color, weight: 3, dashArray: s.dashArray, fillColor: s.color,
      fillOpacity: on ? s.fillOpacity : 0.02, opacity: on ? 1 : 0.4};
    const band = {color: s.color, weight: 1.5, dashArray: "3 5", opacity: on ? 0.6 : 0.2};
    const group = L.featureGroup(shapeLayers(z.geometry, style, z.perimeter_m || 0, band));
    const details = `${z.kind.replace("_", " ")} · agreed by ${z.parties.join(", ")}`
      + (z.allowed.length ? ` · allowed: ${z.allowed.join(", ")}` : "");
    label(group, z.geometry, `<strong>${escapeXml(z.name || z.id)}</strong><br>${escapeXml(details)}`, "zone-label");
    group.addTo(layers.zones);
    layers.byZone.set(z.id, group);
  }
  reweigh();
}

function renderOperations() {
  layers.operations.clearLayers();
  layers.byOperation.clear();
  pruneMetric();
  const t = sliderTime();
  for (const op of state.operations) {
    if (!op.volumes) continue;  // another party's plan: only its conflict with ours is known
    const {color} = partyStyle(op.party);
    const group = L.featureGroup();
    op.volumes.forEach((v) => {
      const on = activeAt(v.window, t);
      const style = {color, weight: on ? 3 : 1.5, dashArray: "6 6", fillColor: color, fillOpacity: on ? 0.2 : 0.03, opacity: on ? 1 : 0.35};
      shapeLayers(v.geometry, style).forEach((l) => group.addLayer(l));
    });
    const w = op.volumes.map((v) => v.window).filter(Boolean)[0] || {};
    const when = w.start || w.end ? `${shortTime(w.start) || "…"} → ${shortTime(w.end) || "…"}` : "any time";
    label(group, op.volumes[0].geometry, `<strong>${escapeXml(op.id)}</strong> (plan of ${escapeXml(op.party)})<br>${escapeXml(when)}`, "op-label");
    group.addTo(layers.operations);
    layers.byOperation.set(op.id, group);
  }
  reweigh();
}

// Where a unit would be at the slider's time if it kept its reported speed and course.
function projected(u) {
  const ahead = (sliderTime() - Date.parse(u.t)) / 1000;
  if (!Number(u.speed_mps) || u.course_deg === undefined || !Number($("slider").value) || ahead <= 0) return null;
  const d = u.speed_mps * Math.min(ahead, 6 * 3600), c = (u.course_deg * Math.PI) / 180;
  const lat = u.lat + (d * Math.cos(c)) / 111320;
  return [lat, u.lon + (d * Math.sin(c)) / (111320 * Math.cos((u.lat * Math.PI) / 180))];
}

function renderUnits() {
  layers.units.clearLayers();
  for (const u of state.units) {
    const {color} = partyStyle(u.party);
    const ahead = projected(u);
    if (ahead) {
      L.polyline([[u.lat, u.lon], ahead], {color, weight: 2, dashArray: "1 6", interactive: false}).addTo(layers.units);
      L.circleMarker(ahead, {radius: 7, color, weight: 2, fill: false, interactive: false})
        .bindTooltip(`${u.id} if it holds course`, {permanent: true, direction: "right", className: "map-label unit-label"})
        .addTo(layers.units);
    }
    if (u.trail.length > 1) {
      L.polyline(u.trail.map((p) => [p.lat, p.lon]), {color, weight: 3, opacity: 0.8, dashArray: u.own ? null : "4 4", interactive: false})
        .addTo(layers.units);
    }
    const icon = L.divIcon({className: "unit-icon", html: symbolSvg(u.party), iconSize: [22, 22], iconAnchor: [11, 11]});
    const why = u.own ? "your unit" : `concerns you: ${[...u.concerns.zones.map((z) => `zone ${z}`), ...u.concerns.units.map((x) => `near ${x}`)].join(", ")}`;
    L.marker([u.lat, u.lon], {icon, keyboard: true, title: `${u.id} (${u.party}), ${why}, at ${shortTime(u.t)}`})
      .bindTooltip(`${u.id}`, {permanent: true, direction: "right", offset: [10, 0], className: "map-label unit-label"})
      .addTo(layers.units);
  }
}

async function loadZones() { state.zones = await api("/v1/zones"); renderZones(); }
async function loadOperations() { state.operations = await api("/v1/operations"); renderOperations(); }
async function loadUnits() { state.units = await api("/v1/units"); renderUnits(); }

let refreshTimer = null;
function refreshSoon() {
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(() => {
    Promise.all([loadZones(), loadOperations(), loadUnits()]).catch(showFailure);
  }, 250);
}

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
  setTimeout(() => { renderPending = false; renderAlerts(); renderInbox(); renderLog(); }, 60);
}

function trackMessage(e) {
  if (!e.type.startsWith("message.") || !e.message) return;
  const m = state.messages.get(e.message) || {id: e.message, hops: [], state: "sent", level: null, acks: []};
  Object.assign(m, {from: e.from ?? m.from, to: e.to ?? m.to, kind: e.kind ?? m.kind, ref: e.ref ?? m.ref});
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
    case "message.resolved": m.state = "resolved"; break;
    case "message.disowned": m.state = "disowned"; m.disowned = `${e.by}: ${e.reason}`; break;
    case "message.waiting": m.state = "waiting"; break;
    case "message.undeliverable": m.state = "undeliverable"; break;
    default: break;
  }
  state.messages.set(m.id, m);
}

function describe(e) {
  switch (e.type) {
    case "zone.approaching": case "zone.entered": case "zone.exited": case "zone.crossed":
      return `${e.track} (${e.party}) ${e.type.split(".")[1]} zone ${e.zone}`;
    case "proximity.predicted":
      return `${e.tracks.join(" and ")} (${e.parties.join(", ")}) predicted ${e.cpa_distance_m ?? "?"} m apart at ${shortTime(e.cpa_t)}`;
    case "separation.lost":
      return `${e.tracks.join(" and ")} (${e.parties.join(", ")}) ${e.distance_m ?? "?"} m apart`;
    case "plan.conflict":
      return `operation ${e.operation} meets ${e.other_kind} ${e.other} (${e.parties.join(", ")}), ${shortTime(e.window && e.window.start)} → ${shortTime(e.window && e.window.end)}`;
    case "zone.declared": return `zone ${e.zone} (${e.kind}) agreed by ${e.parties.join(", ")}`;
    case "operation.declared": return `operation ${e.operation} of ${e.party}`;
    case "message.acknowledged": return `${e.message} acknowledged by ${e.by}${e.as === "intermediary" ? " (as intermediary)" : ""}`;
    case "message.relayed": return `${e.message} relayed by ${e.via}`;
    case "message.escalated": return `${e.message} escalated to ${e.level}`;
    case "message.disowned": return `${e.message} disowned by ${e.by}: ${e.reason}`;
    case "incident.reported": return `incident ${e.incident} (${e.kind}) reported by ${e.reporter}`;
    default:
      if (e.type.startsWith("message.")) return `${e.message}: ${e.from} → ${e.to}${e.kind ? ` (${e.kind})` : ""}`;
      if (e.type.startsWith("channel.")) return `line ${(e.between || []).join(" – ")}`;
      return "";
  }
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

function renderInbox() {
  const list = $("inbox");
  const mine = [...state.messages.values()].filter((m) => myRole(m)).sort((a, b) => (b.sent || "").localeCompare(a.sent || ""));
  const open = mine.filter((m) => m.state === "delivered" && !m.acks.some((a) => a.by === state.me.party));
  $("count-inbox").textContent = open.length ? String(open.length) : "";
  list.replaceChildren(...mine.map((m) => {
    const li = document.createElement("li");
    li.className = "msg";
    li.dataset.message = m.id;
    const role = myRole(m);
    const acked = m.acks.find((a) => a.by === state.me.party);
    const level = m.level || m.kind || "";
    li.innerHTML = `<div class="head"><span class="level"></span><strong class="from"></strong></div>
      <p class="text"></p><p class="route meta"></p><p class="meta"><span class="state"></span> <span class="deadline"></span></p>`;
    const lv = li.querySelector(".level");
    lv.textContent = level.replace("_", " ");
    lv.classList.add(`level-${level}`);
    li.querySelector(".from").textContent = `${m.from} → ${m.to}${role === "intermediary" ? " (you relay it)" : ""}`;
    li.querySelector(".text").textContent = m.text || `(${m.kind})`;
    const route = m.route ? m.route.join(" → ") : [m.from, ...m.hops, m.to].join(" → ");
    li.querySelector(".route").textContent = `${m.id} · route ${route} · ${m.route ? m.route.length - 2 : m.hops.length} relay hop(s)`;
    const said = {delivered: "awaiting your acknowledgement", sent: "sent", waiting: "waiting for a line"}[m.state] || m.state;
    li.querySelector(".state").textContent = acked ? `acknowledged by you ${shortTime(acked.t)}` : said + (m.disowned ? ` (${m.disowned})` : "");
    const dl = li.querySelector(".deadline");
    if (m.deadline && m.state === "delivered" && !acked) dl.dataset.deadline = m.deadline;
    if (!acked && (m.state === "delivered" || (role === "addressee" && m.state === "unanswered"))) {
      const b = document.createElement("button");
      b.type = "button";
      b.className = "ack primary";
      b.textContent = role === "intermediary" ? "Acknowledge receipt" : "Acknowledge";
      b.setAttribute("aria-label", `${b.textContent} ${m.id}`);
      b.addEventListener("click", () => acknowledge(m, b));
      li.append(b);
    }
    return li;
  }));
  tickDeadlines();
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

// -- the signed log: check it here, with WebCrypto ---------------------------------------------
const b64bytes = (s) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
const sha256 = async (...parts) => {
  const n = parts.reduce((k, p) => k + p.length, 0), buf = new Uint8Array(n);
  let o = 0;
  for (const p of parts) { buf.set(p, o); o += p.length; }
  return new Uint8Array(await crypto.subtle.digest("SHA-256", buf));
};
const equal = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);

// RFC 9162, 2.1.3.2: recompute the root from a leaf hash and its audit path.
async function verifyInclusion(leaf, index, size, proof, root) {
  if (index >= size) return false;
  let fn = index, sn = size - 1, r = leaf;
  const one = new Uint8Array([1]);
  for (const p of proof) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      r = await sha256(one, p, r);
      while (fn % 2 === 0 && fn !== 0) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2); }
    } else {
      r = await sha256(one, r, p);
    }
    fn = Math.floor(fn / 2); sn = Math.floor(sn / 2);
  }
  return sn === 0 && equal(r, root);
}

// The head is signed over canonical JSON {"root","size","time"} (sorted keys, no spaces) with Ed25519.
async function verifyHead(head) {
  const der = b64bytes(head.public_key.replace(/-----[A-Z ]+-----/g, "").replace(/\s+/g, ""));
  const key = await crypto.subtle.importKey("spki", der, {name: "Ed25519"}, false, ["verify"]);
  const message = new TextEncoder().encode(JSON.stringify({root: head.root, size: head.size, time: head.time}));
  return crypto.subtle.verify({name: "Ed25519"}, key, b64bytes(head.signature), message);
}

async function loadHead() {
  const head = await api("/v1/log/head");
  $("head-text").textContent = `size ${head.size} · root ${head.root.slice(0, 16)}… · signed ${shortTime(head.time)}`;
  return head;
}

async function verifyLog() {
  const out = $("verify-result");
  out.className = "";
  out.textContent = "Verifying…";
  try {
    const head = await loadHead();
    const signed = await verifyHead(head);
    const root = b64bytes(head.root);
    const entries = [...state.events.values()].filter((e) => e.log_seq && e.log_seq <= head.size)
      .sort((a, b) => b.log_seq - a.log_seq).slice(0, 25);
    let included = 0;
    for (const e of entries) {
      const p = await api(`/v1/log/proof/${e.log_seq}?size=${head.size}`);
      const ok = equal(b64bytes(p.root), root)
        && await verifyInclusion(b64bytes(p.leaf), p.seq - 1, p.size, p.proof.map(b64bytes), root);
      if (ok) included += 1;
    }
    const good = signed && included === entries.length;
    out.className = good ? "ok" : "bad";
    out.textContent = `${good ? "Verified" : "NOT verified"}: Ed25519 signature of the head ${signed ? "valid" : "INVALID"}; `
      + `${included} of ${entries.length} of your latest entries included in the tree of ${head.size} (RFC 6962 proofs checked here).`;
  } catch (err) {
    out.className = "bad";
    out.textContent = `Could not verify: ${err.message}`;
  }
}

// -- the live stream: fetch + ReadableStream (EventSource cannot send the token) ----------------
async function stream() {
  while (state.token) {
    const controller = new AbortController();
    state.abort = controller;
    try {
      const response = await fetch(`/v1/stream?after=${state.lastSeq}`, {signal: controller.signal,
        headers: {Authorization: `Bearer ${state.token}`, "Last-Event-ID": String(state.lastSeq), Accept: "text/event-stream"}});
      if (response.status === 401 || response.status === 403) { logout("The token is no longer valid."); return; }
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

// -- drawing -----------------------------------------------------------------------------------
const draw = {tool: null, points: []};

function setTool(tool) {
  draw.tool = draw.tool === tool ? null : tool;
  draw.points = [];
  for (const b of document.querySelectorAll(".tool")) b.setAttribute("aria-pressed", String(b.dataset.tool === draw.tool));
  $("draw-hint").textContent = {
    polygon: "Click the corners on the map; the polygon closes itself.",
    circle: "Click the centre on the map; set the radius below.",
    route: "Click the route's points on the map in order; set its width below.",
  }[draw.tool] || "Choose a shape, then click on the map (or type GeoJSON below).";
  $("map").style.cursor = draw.tool ? "crosshair" : "";
  updateDrawn();
}

function onMapClick(e) {
  if (!draw.tool) return;
  const p = [Number(e.latlng.lng.toFixed(5)), Number(e.latlng.lat.toFixed(5))];
  draw.points = draw.tool === "circle" ? [p] : [...draw.points, p];
  updateDrawn();
}

function updateDrawn() {
  const pts = draw.points;
  let g = null;
  if (draw.tool === "circle" && pts.length) g = {type: "Point", coordinates: pts[0]};
  else if (draw.tool === "polygon" && pts.length >= 3) g = {type: "Polygon", coordinates: [[...pts, pts[0]]]};
  else if (draw.tool === "route" && pts.length >= 2) g = {type: "LineString", coordinates: pts};
  if (g || draw.tool) $("geometry").value = g ? JSON.stringify(g) : "";
  invalidateCheck();
  showDrawn();
}

function drawnGeometry() {
  const text = $("geometry").value.trim();
  if (!text) throw new Error("geometry: draw a shape on the map or type GeoJSON");
  let g;
  try { g = JSON.parse(text); } catch (err) { throw new Error(`geometry: not JSON (${err.message})`); }
  if (!g || typeof g !== "object" || !g.type) throw new Error("geometry: a GeoJSON geometry needs a type");
  return g;
}

function drawnSpec() {
  const g = drawnGeometry();
  const what = document.querySelector('input[name="what"]:checked').value;
  const id = $("item-id").value.trim();
  const size = {};
  if (g.type === "Point") size.radius_m = Number($("radius").value);
  if (g.type === "LineString") size.width_m = Number($("width").value);
  const window = {};
  if ($("win-start").value.trim()) window.start = $("win-start").value.trim();
  if ($("win-end").value.trim()) window.end = $("win-end").value.trim();
  const shape = {geometry: g, ...size, ...(Object.keys(window).length ? {window} : {})};
  if (what === "zone") {
    const list = (s) => s.split(",").map((x) => x.trim()).filter(Boolean);
    return {what, body: {id, name: $("zone-name").value.trim() || id, kind: $("zone-kind").value,
      parties: list($("zone-parties").value), allowed: list($("zone-allowed").value), ...shape}};
  }
  return {what, body: {id, volumes: [shape]}};
}

function showDrawn(conflicted = null) {
  layers.draw.clearLayers();
  pruneMetric();
  let g = null;
  try { g = drawnGeometry(); } catch (_) { g = null; }
  const color = conflicted === null ? "#000000" : conflicted ? "#D55E00" : "#009E73";
  const style = {color, weight: 3, dashArray: conflicted ? "8 4" : "2 4", fillColor: color, fillOpacity: 0.15};
  for (const p of draw.points) L.circleMarker([p[1], p[0]], {radius: 4, color: "#000", fillColor: "#fff", fillOpacity: 1, weight: 2}).addTo(layers.draw);
  if (!g) return;
  try {
    const shape = {...g};
    if (g.type === "Point") shape.radius_m = Number($("radius").value) || 1;
    if (g.type === "LineString") shape.width_m = Number($("width").value) || 1;
    shapeLayers(shape, style).forEach((l) => { l._drawn = true; l.addTo(layers.draw); });
    reweigh();
  } catch (_) { /* a half-typed geometry: nothing to show yet */ }
}

function invalidateCheck() {
  state.checked = null;
  $("save").disabled = true;
}

function collection(what) { return what === "zone" ? "/v1/zones" : "/v1/operations"; }

async function checkDrawn(ev) {
  ev.preventDefault();
  const out = $("draw-result");
  layers.highlight.clearLayers();
  let spec;
  try { spec = drawnSpec(); } catch (err) { out.innerHTML = ""; out.append(line(err.message, "error")); return; }
  try {
    const answer = await api(`${collection(spec.what)}?dry_run=true`, {method: "POST", body: spec.body});
    state.checked = JSON.stringify(spec);
    $("save").disabled = false;
    showConflicts(answer.conflicts, out, "Not saved yet. ");
  } catch (err) {
    invalidateCheck();
    out.replaceChildren(line(`Refused: ${err.message}`, "error"));
  }
}

function showConflicts(conflicts, out, prefix) {
  showDrawn(conflicts.length > 0);
  if (!conflicts.length) { out.replaceChildren(line(`${prefix}No conflict.`, "clear")); return; }
  const items = conflicts.map((c) => {
    const other = c.operation === ($("item-id").value.trim()) ? `${c.other_kind} ${c.other}` : `operation ${c.operation}`;
    const when = c.window ? `, ${shortTime(c.window.start)} → ${shortTime(c.window.end)}` : "";
    const layer = layers.byZone.get(c.other) || layers.byOperation.get(c.other) || layers.byOperation.get(c.operation);
    if (layer) L.rectangle(layer.getBounds().pad(0.02), {color: "#D55E00", weight: 3, dashArray: "8 4", fill: false, interactive: false}).addTo(layers.highlight);
    return line(`Conflict with ${other} (parties ${c.parties.join(", ")})${when}`, "conflict");
  });
  out.replaceChildren(line(`${prefix}${conflicts.length} conflict(s):`, "conflict"), ...items);
}

async function saveDrawn() {
  const out = $("draw-result");
  let spec;
  try { spec = drawnSpec(); } catch (err) { out.replaceChildren(line(err.message, "error")); return; }
  if (JSON.stringify(spec) !== state.checked) { invalidateCheck(); out.replaceChildren(line("Changed since the check: check it again first.", "error")); return; }
  $("save").disabled = true;
  try {
    const answer = await api(collection(spec.what), {method: "POST", body: spec.body});
    showConflicts(answer.conflicts || [], out, `Saved ${spec.what} ${spec.body.id}. `);
    state.checked = null;
    refreshSoon();
  } catch (err) {
    out.replaceChildren(line(`Refused: ${err.message}`, "error"));
  }
}

function line(text, cls) {
  const p = document.createElement("p");
  p.className = cls;
  p.textContent = text;
  return p;
}

function clearDrawn() {
  draw.points = [];
  $("geometry").value = "";
  $("draw-result").replaceChildren();
  layers.highlight.clearLayers();
  invalidateCheck();
  showDrawn();
}

function setupDrawForm() {
  for (const b of document.querySelectorAll(".tool")) b.addEventListener("click", () => setTool(b.dataset.tool));
  $("undo-point").addEventListener("click", () => { draw.points.pop(); updateDrawn(); });
  $("clear-draw").addEventListener("click", clearDrawn);
  $("draw-form").addEventListener("submit", checkDrawn);
  $("save").addEventListener("click", saveDrawn);
  $("draw-form").addEventListener("input", (e) => {
    if (e.target.name === "what") return;
    invalidateCheck();
    if (["geometry", "radius", "width"].includes(e.target.id)) showDrawn();
  });
  for (const r of document.querySelectorAll('input[name="what"]')) {
    r.addEventListener("change", () => { document.querySelector(".zone-only").hidden = r.value !== "zone" || !r.checked; invalidateCheck(); });
  }
  document.querySelector(".zone-only").hidden = true;
}

function fillDrawDefaults() {
  const now = serviceNow();
  $("win-start").value = iso(Math.ceil(now / 600000) * 600000);
  $("win-end").value = iso(Math.ceil(now / 600000) * 600000 + 4 * 3600000);
  $("zone-parties").value = state.me.party;
  $("zone-allowed").value = state.me.party;
  $("item-id").value = `${state.me.party}-plan-${Math.floor(now / 1000) % 100000}`;
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
    $("login-error").textContent = err.status === 403 ? "This token is unknown or revoked." : `Cannot sign in: ${err.message}`;
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
  const fit = state.zones.length ? L.featureGroup([...layers.byZone.values()]).getBounds() : null;
  if (fit && fit.isValid()) map.fitBounds(fit.pad(0.15));
  loadHead().catch(() => {});
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
  $("slider").addEventListener("input", () => { renderZones(); renderOperations(); renderUnits(); tickDeadlines(); });
  setInterval(tickDeadlines, 1000);
  setInterval(() => { if (state.me) loadUnits().catch(showFailure); }, 2000);
  setInterval(() => { if (state.me) syncClock().catch(() => {}); }, 5000);
  $("login-error").textContent = sessionStorage.getItem(NOTICE_KEY) || "";
  sessionStorage.removeItem(NOTICE_KEY);
  const saved = sessionStorage.getItem(TOKEN_KEY);
  if (saved) login(saved);
}

main();
