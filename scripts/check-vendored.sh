#!/usr/bin/env bash
# Checks that every file under vendor/shared/ is a byte-for-byte copy of the same path in ../shared/
# (the project's read-only references). Skipped, with a note, when ../shared is absent.
set -euo pipefail
cd "$(dirname "$0")/.."

src=../shared
if [ ! -d "$src" ]; then
  echo "check-vendored: $src absent, skipped"
  exit 0
fi

stale=0
count=0
while IFS= read -r -d '' copy; do
  rel=${copy#vendor/shared/}
  count=$((count + 1))
  if [ ! -f "$src/$rel" ]; then
    echo "vendored file has no source: vendor/shared/$rel (../shared/$rel missing)" >&2
    stale=1
  elif ! cmp -s "$copy" "$src/$rel"; then
    echo "vendored file differs from its source: vendor/shared/$rel != ../shared/$rel" >&2
    stale=1
  fi
done < <(find vendor/shared -type f -print0 | sort -z)

if [ "$stale" -ne 0 ]; then
  echo "refresh with: cp ../shared/<path> vendor/shared/<path>" >&2
  exit 1
fi
echo "check-vendored: $count file(s) match ../shared"
