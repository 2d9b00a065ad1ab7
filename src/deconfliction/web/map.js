// The operations picture, part 2: the map: parties' symbols, zones, operations and units.
"use strict";

// -- parties: a colour and a shape each ---------------------------------------------------------
function partyStyle(party) {
  if (!partyStyles.has(party)) {
    let h = 0;
    for (const ch of party) h = (h * 31 + ch.charCodeAt(0)) >>> 0;
    // yellow (the last colour) is pale on the basemap: a party gets it only when the others are taken
    const strong = PALETTE.length - 1;
    let i = h % strong;
    const used = new Set([...partyStyles.values()].map((s) => s.index));
    for (let k = 0; k < strong && used.has(i); k++) i = (i + 1) % strong;
    if (used.has(i) && !used.has(strong)) i = strong;
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
    out.push(metricLine(ll, g.width_m, {...style, opacity: style.bandOpacity ?? 0.35, lineCap: "round", lineJoin: "round"}));
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
    countries: L.layerGroup().addTo(map), zones: L.layerGroup().addTo(map), broadcasts: L.layerGroup().addTo(map),
    operations: L.layerGroup().addTo(map),
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
  map.getContainer().addEventListener("keydown", (e) => { if (e.key === "Escape" && draw.tool) setTool(draw.tool); });
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
  div.innerHTML = `<ul>${parties.join("")}${zoneItems.join("")}`
    + `<li><svg width="26" height="12" aria-hidden="true"><rect x="2" y="2" width="22" height="8" fill="none" stroke="#555" stroke-width="2" stroke-dasharray="16 6 2 6"/></svg>proposed zone, not yet agreed (thin, unfilled)</li>`
    + `<li><svg width="26" height="12" aria-hidden="true"><line x1="1" y1="6" x2="25" y2="6" stroke="#555" stroke-width="3" stroke-dasharray="1 7" stroke-linecap="round"/></svg>area broadcast (sender's colour)</li>`
    + `<li><svg width="26" height="12" aria-hidden="true"><line x1="1" y1="6" x2="25" y2="6" stroke="#555" stroke-width="2" stroke-dasharray="3 5"/></svg>perimeter band</li>`
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
    if (withdrawal(z.id, z)) continue;  // withdrawn: off the map; the Items tab and the log say by whom and why
    const s = ZONE_STYLE[z.kind] || ZONE_STYLE.deconfliction;
    const on = activeAt(z.window, t);
    const standing = zoneStanding(z);
    // a zone not yet agreed by every party it names binds only those that agreed: drawn thin and unfilled
    const agreed = standing.cls === "agreed";
    const style = {color: s.color, weight: agreed ? 3 : 2, dashArray: agreed ? s.dashArray : "16 6 2 6", fillColor: s.color,
      fillOpacity: agreed ? (on ? s.fillOpacity : 0.02) : 0, opacity: on ? 1 : 0.4, className: `zone-area zone-${standing.cls}`};
    const band = {color: s.color, weight: 1.5, dashArray: "3 5", opacity: on ? 0.6 : 0.2};
    const group = L.featureGroup(shapeLayers(z.geometry, style, z.perimeter_m || 0, band));
    const details = `${z.kind.replace("_", " ")} · ${standing.text}` + (versionOf(z) > 1 ? ` · version ${versionOf(z)}` : "")
      + (z.allowed.length ? ` · allowed: ${z.allowed.join(", ")}` : "");
    label(group, z.geometry, `<strong>${escapeXml(z.name || z.id)}</strong><span class="details">${escapeXml(details)}</span>`,
      `zone-label zone-label-${standing.cls}`);
    group.on("click", () => openItem("zone", z.id));
    group.addTo(layers.zones);
    layers.byZone.set(z.id, group);
  }
  reweigh();
}

// A click on a zone or a plan opens its entry in the Items tab (unless a shape is being drawn).
function openItem(kind, id) {
  if (draw.tool) return;
  $("tab-items").click();
  const li = document.querySelector(`#panel-items li[data-${kind}="${CSS.escape(id)}"]`);
  if (li) { li.scrollIntoView({block: "nearest"}); li.classList.add("picked"); setTimeout(() => li.classList.remove("picked"), 2000); }
}

function renderOperations() {
  layers.operations.clearLayers();
  layers.byOperation.clear();
  pruneMetric();
  const t = sliderTime();
  for (const op of state.operations) {
    if (!op.volumes) continue;  // another party's plan: only its conflict with ours is known
    if (withdrawal(op.id, op)) continue;  // cancelled: off the map; the Items tab and the log say by whom and why
    const {color} = partyStyle(op.party);
    const group = L.featureGroup();
    op.volumes.forEach((v) => {
      const on = activeAt(v.window, t);
      const style = {color, weight: on ? 3 : 1.5, dashArray: "6 6", fillColor: color, fillOpacity: on ? 0.2 : 0.03, opacity: on ? 1 : 0.35};
      shapeLayers(v.geometry, style).forEach((l) => group.addLayer(l));
    });
    const w = op.volumes.map((v) => v.window).filter(Boolean)[0] || {};
    const when = w.start || w.end ? `${shortTime(w.start) || "…"} → ${shortTime(w.end) || "…"}` : "any time";
    const about = `${operationState(op)}${versionOf(op) > 1 ? ` · version ${versionOf(op)}` : ""} · ${when}`;
    label(group, op.volumes[0].geometry, `<strong>${escapeXml(op.id)}</strong> (plan of ${escapeXml(op.party)}${op.notified ? ", notified to you" : ""})<span class="details">${escapeXml(about)}</span>`, "op-label");
    group.on("click", () => openItem("operation", op.id));
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

async function loadZones() { state.zones = await api("/v1/zones"); renderZones(); renderItems(); }
async function loadOperations() { state.operations = await api("/v1/operations"); renderOperations(); renderItems(); }
async function loadUnits() { state.units = await api("/v1/units"); renderUnits(); }

let refreshTimer = null;
function refreshSoon() {
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(() => {
    Promise.all([loadZones(), loadOperations(), loadUnits()]).catch(showFailure);
  }, 250);
}

