#!/usr/bin/env bash
# with-postgres.sh CMD [ARGS...]
#
# Runs CMD with a throwaway PostgreSQL cluster on 127.0.0.1 and KEYWARD_TEST_POSTGRES_URL pointing at
# its database `keyward`; the cluster is stopped and deleted when CMD ends (whatever its outcome).
# Installs Debian's `postgresql` with apt-get if no server binaries are found. Works as root (the
# server runs as the unprivileged user `keyward-pg`, created if missing) and without a terminal.
#   bash scripts/with-postgres.sh cargo test -p keyward-store
set -euo pipefail

if [ "$#" -eq 0 ]; then
  echo "usage: $0 CMD [ARGS...]" >&2
  exit 2
fi

say() { printf 'with-postgres: %s\n' "$*" >&2; }

# Server binaries: the newest /usr/lib/postgresql/*/bin, else whatever initdb is on PATH.
find_bin_dir() {
  local d best=""
  for d in /usr/lib/postgresql/*/bin; do
    [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && [ -x "$d/postgres" ] && best="$d"
  done
  if [ -z "$best" ] && command -v initdb >/dev/null 2>&1; then
    best="$(dirname "$(readlink -f "$(command -v initdb)")")"
  fi
  printf '%s' "$best"
}

BIN="$(find_bin_dir)"
if [ -z "$BIN" ]; then
  if [ "$(id -u)" -ne 0 ]; then
    say "no PostgreSQL server binaries found and not root: install Debian's 'postgresql' package"
    exit 1
  fi
  say "installing PostgreSQL (apt-get install postgresql)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends postgresql >/dev/null
  BIN="$(find_bin_dir)"
  if [ -z "$BIN" ]; then
    say "postgresql installed but initdb/pg_ctl/postgres not found under /usr/lib/postgresql/*/bin"
    exit 1
  fi
fi

# initdb and postgres refuse to run as root: use an unprivileged user.
if [ "$(id -u)" -eq 0 ]; then
  PG_USER=keyward-pg
  if ! id -u "$PG_USER" >/dev/null 2>&1; then
    useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$PG_USER"
  fi
  as_pg() { runuser -u "$PG_USER" -- "$@"; }
else
  PG_USER="$(id -un)"
  as_pg() { "$@"; }
fi

WORK="$(mktemp -d "${TMPDIR:-/tmp}/keyward-pg.XXXXXX")"
DATA="$WORK/data"
SOCK="$WORK/sock"
LOG="$WORK/server.log"
mkdir -p "$SOCK"
[ "$(id -u)" -eq 0 ] && chown -R "$PG_USER" "$WORK"
chmod 0700 "$WORK"

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [ -f "$DATA/postmaster.pid" ]; then
    as_pg "$BIN/pg_ctl" -D "$DATA" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$WORK"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if ! as_pg "$BIN/initdb" -D "$DATA" -U keyward --auth=trust --no-locale -E UTF8 --no-sync >"$WORK/initdb.log" 2>&1; then
  cat "$WORK/initdb.log" >&2
  say "initdb failed"
  exit 1
fi

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# A free port: random picks, retried if the server cannot bind (another process took it meanwhile).
# fsync=off: a throwaway test cluster whose server is never killed; only client crashes are tested.
PORT=""
for _ in 1 2 3 4 5 6 7 8; do
  candidate=$((20000 + RANDOM % 40000))
  port_in_use "$candidate" && continue
  if as_pg "$BIN/pg_ctl" -D "$DATA" -l "$LOG" -w -t 60 \
      -o "-c listen_addresses=127.0.0.1 -p $candidate -k $SOCK -c fsync=off -c full_page_writes=off" \
      start >/dev/null 2>&1; then
    PORT="$candidate"
    break
  fi
done
if [ -z "$PORT" ]; then
  [ -f "$LOG" ] && tail -n 20 "$LOG" >&2
  say "could not start PostgreSQL"
  exit 1
fi

if ! "$BIN/createdb" -h 127.0.0.1 -p "$PORT" -U keyward keyward >"$WORK/createdb.log" 2>&1; then
  cat "$WORK/createdb.log" >&2
  say "createdb failed"
  exit 1
fi

export KEYWARD_TEST_POSTGRES_URL="postgres://keyward@127.0.0.1:$PORT/keyward"
say "PostgreSQL $("$BIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$PORT; KEYWARD_TEST_POSTGRES_URL=$KEYWARD_TEST_POSTGRES_URL"

set +e
"$@"
rc=$?
set -e
exit "$rc"
