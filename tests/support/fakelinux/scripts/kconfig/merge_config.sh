#!/bin/sh
# Fake merge_config.sh: -m -O DIR BASE FRAGMENT...: later values win.
[ "$1" = -m ] && shift
[ "$1" = -O ] && { out=$2; shift 2; }
base=$1; shift
for f in "$@"; do
  grep -E '^(CONFIG_|# CONFIG_)' "$f" | while read -r line; do
    opt=$(echo "$line" | sed -E 's/^# (CONFIG_[A-Za-z0-9_]+) is not set/\1/; s/=.*//')
    sed -i -E "/^($opt=|# $opt is not set)/d" "$base"
    echo "$line" >> "$base"
  done
done
