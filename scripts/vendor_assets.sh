#!/usr/bin/env bash
# Refresh the browser libraries served by geogrid from the npm registry.
# Their files are committed under web/static/vendor, so users need neither npm
# nor the internet; run this only to upgrade them.
set -euo pipefail
cd "$(dirname "$0")/.."
dest=web/static/vendor
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

fetch() {  # package@version, then files to keep (paths inside the package)
  local spec=$1 name=${1%@*}; shift
  local folder="$dest/$(basename "$name")"
  (cd "$work" && npm pack --silent "$spec" >/dev/null)
  local tgz; tgz=$(ls "$work"/*.tgz)
  mkdir -p "$work/x" "$folder"
  tar -xzf "$tgz" -C "$work/x"
  for f in "$@"; do
    mkdir -p "$folder/$(dirname "$f")"
    cp -r "$work/x/package/$f" "$folder/$f"
  done
  find "$work/x/package" -maxdepth 1 -iname "*licen*" -exec cp {} "$folder/" \;
  rm -rf "$work/x" "$tgz"
}

rm -rf "$dest"
fetch leaflet@1.9.4 dist/leaflet.js dist/leaflet.css dist/images
fetch leaflet.heat@0.2.0 dist/leaflet-heat.js
fetch leaflet.markercluster@1.5.3 dist/leaflet.markercluster.js dist/MarkerCluster.css dist/MarkerCluster.Default.css
fetch @geoman-io/leaflet-geoman-free@2.17.0 dist/leaflet-geoman.js dist/leaflet-geoman.css
ls -R "$dest"
