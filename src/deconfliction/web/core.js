// The operations picture, part 1: constants, the page's state, HTTP and the service's clock.
// The page is plain scripts sharing one scope, loaded in order by index.html (no build step).
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
  "zone.approaching", "zone.entered", "zone.exited", "proximity.predicted", "separation.lost",
  "zone.agreed", "zone.declined", "zone.amended", "zone.withdrawn", "operation.amended", "operation.cancelled",
  "operation.activated", "operation.ended", "plan.conflict_ended"]);

const $ = (id) => document.getElementById(id);
const state = {
  token: null, me: null, events: new Map(), lastSeq: 0, messages: new Map(), zones: [], operations: [],
  units: [], clock: {service: Date.now(), local: Date.now(), rate: 1}, abort: null, drawn: null, checked: null,
  ended: new Map(), broadcasts: new Map(),  // by item id: withdrawals and cancellations; area broadcasts by id
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

