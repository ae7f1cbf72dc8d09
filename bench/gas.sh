#!/usr/bin/env bash
# Gas of Keyward's accounts side by side with Alchemy's Modular Account V2 release bytecode
# (shared/oracles/mav2-gas), written into docs/gas.md between the MAV2-ORACLE markers.
#
#   bash bench/gas.sh                 # from the repository root
#
# Environment: ORACLE (default ../shared/oracles/mav2-gas), WORK (copy of the oracle, default
# /tmp/mav2-gas-keyward), PORT (anvil, default 18745), EP_GUARD (default 1, the EntryPoint storage
# of real chains). The oracle is copied first (shared/ may be read-only; npm ci writes into it).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
ORACLE="${ORACLE:-$ROOT/../shared/oracles/mav2-gas}"
WORK="${WORK:-/tmp/mav2-gas-keyward}"
PORT="${PORT:-18745}"
EP_GUARD="${EP_GUARD:-1}"
[ -f "$ORACLE/measure.mjs" ] || { echo "oracle not found at $ORACLE (set ORACLE=...)" >&2; exit 1; }

if [ ! -d "$WORK/node_modules" ] || ! diff -q "$ORACLE/measure.mjs" "$WORK/measure.mjs" >/dev/null 2>&1; then
  rm -rf "$WORK" && cp -r "$ORACLE" "$WORK"
  (cd "$WORK" && npm ci --silent && node build.mjs)
fi

cd "$ROOT"
OUT="$(mktemp)"
EP_GUARD="$EP_GUARD" WITH_COMPILED=0 PORT="$PORT" ANALYZE=0 node "$WORK/measure.mjs" > "$OUT"
TABLE="$(grep -E '^(\||anvil:)' "$OUT")"
echo "$TABLE"

DOC="$ROOT/docs/gas.md"
BEGIN="<!-- MAV2-ORACLE:BEGIN (bench/gas.sh writes this block) -->"
END="<!-- MAV2-ORACLE:END -->"
python3 - "$DOC" "$BEGIN" "$END" "$TABLE" <<'PY'
import sys
doc, begin, end, table = sys.argv[1:5]
text = open(doc).read()
block = f"{begin}\n{table}\n{end}"
if begin in text and end in text:
    a = text.index(begin); b = text.index(end) + len(end)
    text = text[:a] + block + text[b:]
else:
    text = text.rstrip("\n") + "\n\n" + block + "\n"
open(doc, "w").write(text)
PY
echo "wrote $DOC"
