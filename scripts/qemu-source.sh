#!/bin/sh
# The installed QEMU's plugin API header and contrib plugins, from Debian's source package (deb-src in
# scripts/apt/dplab.sources): scripts/qemu-source.sh DIR  ->  DIR/qemu-plugin.h, DIR/contrib-plugins/*.c
set -eu
dir=$1
src=$(dpkg-query -W -f='${source:Package}' qemu-system-x86)
ver=$(dpkg-query -W -f='${source:Version}' qemu-system-x86)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && apt-get source --download-only -qq "$src=$ver" 2>/dev/null) \
  || { echo "qemu-source: apt-get source $src=$ver failed (deb-src entries: make setup)" >&2; exit 1; }
orig=$(ls "$tmp"/*.orig.tar.* | head -n 1)
tar -xf "$orig" -C "$tmp" --wildcards '*/include/qemu/qemu-plugin.h' '*/contrib/plugins/*.c'
mkdir -p "$dir/contrib-plugins"
cp "$tmp"/*/include/qemu/qemu-plugin.h "$dir/"
cp "$tmp"/*/contrib/plugins/*.c "$dir/contrib-plugins/"
echo "$ver" > "$dir/VERSION"
