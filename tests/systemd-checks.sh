#!/usr/bin/env bash
# Static checks of systemd/easbox.service, run by CI (as root on Debian bookworm):
#  1. `systemd-analyze verify` prints nothing. It exits 0 on unknown keys and typos (it only
#     prints "Unknown key …, ignoring"), so any output at all is a failure. It also fails when
#     the ExecStart binary is missing, so the unit is checked from a temporary copy whose
#     ExecStart points at a built binary (argument 1, default target/release/easbox, else
#     target/debug/easbox). The sysusers file is checked the same way.
#  2. `systemd-analyze security --offline=yes --threshold=20`: exposure 2.0 or better.
# Usage: tests/systemd-checks.sh [PATH-TO-EASBOX-BINARY]
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v systemd-analyze >/dev/null; then
  echo "systemd-checks: installing systemd (systemd-analyze)" >&2
  sudo_=""; [ "$(id -u)" -eq 0 ] || sudo_="sudo"
  $sudo_ apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_ apt-get install -y -qq --no-install-recommends systemd >/dev/null
fi

bin="${1:-}"
if [ -z "$bin" ]; then
  tdir="${CARGO_TARGET_DIR:-target}"
  for c in "$tdir/release/easbox" "$tdir/debug/easbox"; do
    if [ -x "$c" ]; then bin="$c"; break; fi
  done
fi
if [ -z "$bin" ] || [ ! -x "$bin" ]; then
  echo "systemd-checks: no easbox binary (build it first or pass its path)" >&2
  exit 1
fi
bin="$(realpath "$bin")"

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
unit="$tmp/easbox.service"
# Only the binary path changes; the arguments and every other line stay as shipped.
sed "s#^ExecStart=/usr/bin/easbox #ExecStart=$bin #" systemd/easbox.service >"$unit"
if ! grep -q "^ExecStart=$bin " "$unit"; then
  echo "systemd-checks: ExecStart=/usr/bin/easbox … not found in systemd/easbox.service" >&2
  exit 1
fi

fail=0
ok=0
out="$(systemd-analyze verify "$unit" 2>&1)" || { echo "systemd-analyze verify: exit $?" >&2; fail=1; }
if [ -n "$out" ]; then
  echo "systemd-analyze verify printed (must print nothing):" >&2
  echo "$out" >&2
  fail=1
else
  echo "systemd-analyze verify: clean"; ok=$((ok + 1))
fi

# sysusers: a dry run against an empty root must create exactly the easbox user and group.
mkdir -p "$tmp/root/etc" "$tmp/root/usr/lib/sysusers.d"
cp systemd/easbox.sysusers "$tmp/root/usr/lib/sysusers.d/easbox.conf"
out="$(systemd-sysusers --root="$tmp/root" 2>&1)" || { echo "$out" >&2; fail=1; }
if grep -q '^easbox:x:[0-9]*:[0-9]*:easbox ActiveSync server:/var/lib/easbox:/usr/sbin/nologin$' "$tmp/root/etc/passwd" \
  && grep -q '^easbox:x:' "$tmp/root/etc/group"; then
  echo "systemd-sysusers: creates user and group easbox"; ok=$((ok + 1))
else
  echo "systemd-sysusers did not create the easbox user/group: $out" >&2
  cat "$tmp/root/etc/passwd" >&2 2>/dev/null || true
  fail=1
fi

sec="$(systemd-analyze security --offline=yes --threshold=20 "$unit" 2>&1)" && rc=0 || rc=$?
score="$(printf '%s\n' "$sec" | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')"
if [ "$rc" -ne 0 ] || [ -z "$score" ]; then
  printf '%s\n' "$sec" | grep -E '✗|Overall' >&2 || printf '%s\n' "$sec" >&2
  echo "systemd-analyze security: exposure ${score:-?} is above 2.0 (exit $rc)" >&2
  fail=1
else
  echo "systemd-analyze security: exposure $score (threshold 2.0)"; ok=$((ok + 1))
fi

echo "systemd-checks: $ok passed, $((3 - ok)) failed"
[ "$fail" -eq 0 ]
