#!/usr/bin/env bash
# Copy the web page's browser libraries from the npm registry into the package (re-runnable).
#
# Versions are pinned in web/package.json and web/package-lock.json. Only the files the page
# loads, and each package's licence, land in src/deconfliction/web/vendor/ (committed, so that
# installing the package needs no npm).
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp web/package.json "$work/"
if [ -f web/package-lock.json ]; then cp web/package-lock.json "$work/"; fi
(cd "$work" && if [ -f package-lock.json ]; then npm ci --no-audit --no-fund --ignore-scripts; \
  else npm install --no-audit --no-fund --ignore-scripts; fi) >&2
cp "$work/package-lock.json" web/package-lock.json

out=src/deconfliction/web/vendor
rm -rf "$out"
mkdir -p "$out/leaflet/images" "$out/topojson-client" "$out/world-atlas"
m="$work/node_modules"
cp "$m/leaflet/dist/leaflet.js" "$m/leaflet/dist/leaflet.css" "$m/leaflet/LICENSE" "$out/leaflet/"
cp "$m/leaflet/dist/images/"*.png "$out/leaflet/images/"
cp "$m/topojson-client/dist/topojson-client.min.js" "$m/topojson-client/LICENSE" "$out/topojson-client/"
cp "$m/world-atlas/countries-50m.json" "$m/world-atlas/LICENSE" "$out/world-atlas/"
{
  echo "Copied by scripts/vendor-web.sh from the npm registry; do not edit by hand."
  for p in leaflet topojson-client world-atlas; do
    node -e "const p=require('$m/$p/package.json'); console.log(p.name + ' ' + p.version + ' (' + p.license + ')')"
  done
  echo "world-atlas carries Natural Earth data (public domain)."
} > "$out/VERSIONS.txt"
echo "vendored into $out:" >&2
find "$out" -type f | sort >&2
