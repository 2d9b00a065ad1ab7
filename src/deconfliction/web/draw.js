// The operations picture, part 5: drawing a zone or an operation, its dry run, then saving it.
"use strict";

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
  const list = (s) => s.split(",").map((x) => x.trim()).filter(Boolean);
  const notify = list($("notify").value);
  const told = notify.length ? {notify} : {};
  if (what === "zone") {
    return {what, body: {id, name: $("zone-name").value.trim() || id, kind: $("zone-kind").value,
      parties: list($("zone-parties").value), allowed: list($("zone-allowed").value), ...told, ...shape}};
  }
  return {what, body: {id, ...told, volumes: [shape]}};
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
    showConflicts(answer.conflicts, out, "Not saved yet. ", answer.hidden_conflicts || 0);
  } catch (err) {
    invalidateCheck();
    out.replaceChildren(line(`Refused: ${err.message}`, "error"));
  }
}

function showConflicts(conflicts, out, prefix, hidden = 0) {
  // hidden: conflicts of a check with other parties' items the caller was not told about (only counted)
  showDrawn(conflicts.length > 0 || hidden > 0);
  const untold = hidden > 0 ? [line(`${hidden} conflict(s) with items of other parties that you have not been told about; their owners have been told of this check.`, "conflict")] : [];
  if (!conflicts.length) { out.replaceChildren(...(untold.length ? [line(prefix.trim(), "conflict"), ...untold] : [line(`${prefix}No conflict.`, "clear")])); return; }
  const items = conflicts.map((c) => {
    const other = c.operation === ($("item-id").value.trim()) ? `${c.other_kind} ${c.other}` : `operation ${c.operation}`;
    const when = c.window ? `, ${shortTime(c.window.start)} → ${shortTime(c.window.end)}` : "";
    const layer = layers.byZone.get(c.other) || layers.byOperation.get(c.other) || layers.byOperation.get(c.operation);
    if (layer) L.rectangle(layer.getBounds().pad(0.02), {color: "#D55E00", weight: 3, dashArray: "8 4", fill: false, interactive: false}).addTo(layers.highlight);
    return line(`Conflict with ${other} (parties ${c.parties.join(", ")})${when}`, "conflict");
  });
  out.replaceChildren(line(`${prefix}${conflicts.length} conflict(s):`, "conflict"), ...items, ...untold);
}

async function saveDrawn() {
  const out = $("draw-result");
  let spec;
  try { spec = drawnSpec(); } catch (err) { out.replaceChildren(line(err.message, "error")); return; }
  if (JSON.stringify(spec) !== state.checked) { invalidateCheck(); out.replaceChildren(line("Changed since the check: check it again first.", "error")); return; }
  $("save").disabled = true;
  try {
    const answer = await api(collection(spec.what), {method: "POST", body: spec.body});
    const others = spec.what === "zone" ? spec.body.parties.filter((p) => p !== state.me.party) : [];
    const asked = others.length ? `Proposed to ${others.join(", ")}: it binds only you until they agree. ` : "";
    const told = spec.body.notify ? `Notified to ${spec.body.notify.join(", ")}. ` : "";
    showConflicts(answer.conflicts || [], out, `Saved ${spec.what} ${spec.body.id}. ${asked}${told}`);
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

