#!/usr/bin/env bash
# Make sure the programs the test suite starts exist, and find a PostgreSQL server for it.
# Prints one line: the libpq DSN of a server where the suite may create its own databases.
# All chatter goes to stderr.
set -euo pipefail

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo -n "$@"; fi; }
apt_install() {
  echo "installing $* with apt-get" >&2
  as_root apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "$@" >&2
}

# The suite starts its own Mosquitto on a free port; it only needs the binary.
if ! command -v mosquitto >/dev/null && [ ! -x /usr/sbin/mosquitto ]; then
  apt_install mosquitto
fi

# The console's browser tests drive Debian's chromium (Playwright cannot download its own
# here); the CJK font makes the Chinese screenshots and `vnh simulate --plot` readable, and
# is looked for on its own: a machine may have chromium and no such font.
if [ ! -x /usr/bin/chromium ]; then
  apt_install chromium fonts-wqy-microhei
elif [ ! -e /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ]; then
  apt_install fonts-wqy-microhei
fi

# Prefer a server already listening on 127.0.0.1:5432 with trust auth (the suite only
# ever creates and drops databases named vnh_test_*).
SYSTEM_DSN="postgresql://postgres@127.0.0.1:5432/postgres"
if command -v psql >/dev/null && psql "$SYSTEM_DSN" -tAc 'select 1' >/dev/null 2>&1; then
  echo "$SYSTEM_DSN"; exit 0
fi
# Installed but stopped: start it.
if command -v pg_ctlcluster >/dev/null && ls /etc/postgresql/*/main >/dev/null 2>&1; then
  ver=$(ls /etc/postgresql | sort -V | tail -n 1)
  as_root pg_ctlcluster --skip-systemctl-redirect "$ver" main start >&2 || true
  for _ in $(seq 1 30); do
    psql "$SYSTEM_DSN" -tAc 'select 1' >/dev/null 2>&1 && { echo "$SYSTEM_DSN"; exit 0; }
    sleep 0.5
  done
fi
# Otherwise a throwaway cluster of our own, trust auth on a private port.
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  apt_install postgresql
fi
bindir=$(dirname "$(ls /usr/lib/postgresql/*/bin/initdb | sort -V | tail -n 1)")
data=/tmp/vnh-test-pg
port=55432
if ! psql "postgresql://postgres@127.0.0.1:$port/postgres" -tAc 'select 1' >/dev/null 2>&1; then
  rm -rf "$data"; mkdir -p "$data"
  if [ "$(id -u)" = 0 ]; then chown postgres "$data"; run=(runuser -u postgres --); else run=(); fi
  "${run[@]}" "$bindir/initdb" -D "$data" -U postgres --auth=trust >/dev/null
  "${run[@]}" "$bindir/pg_ctl" -D "$data" -o "-p $port -k /tmp -c listen_addresses=127.0.0.1" \
    -l "$data/log" -w start >&2
fi
echo "postgresql://postgres@127.0.0.1:$port/postgres"
