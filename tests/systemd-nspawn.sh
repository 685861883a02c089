#!/usr/bin/env bash
# Boots systemd/easbox.service under `systemd-nspawn -b` in an amd64 Debian bookworm rootfs
# and checks, with the real systemd 252 as PID 1:
#   - the sysusers.d file creates the easbox user (as a package's postinst would);
#   - READY=1 reaches systemd: `systemctl start` → active, within a timeout;
#   - the process runs as easbox with CAP_NET_BIND_SERVICE as its only capability, and the
#     state directory is /var/lib/easbox, mode 0700, owned by easbox;
#   - a stalled process (SIGSTOP) is killed by the watchdog ("Watchdog timeout" in the
#     journal, NRestarts goes up) and restarted to active;
#   - every file in the state directory survives the restart.
# The test shortens WatchdogSec (NSPAWN_WATCHDOG_SEC, default 3) and RestartSec through a
# drop-in; everything else is the shipped unit.
#
# Usage: tests/systemd-nspawn.sh BINARY [ARG...]
#   BINARY is installed as /usr/bin/easbox; with ARGs, ExecStart becomes /usr/bin/easbox ARG...
#   (without, the unit's own ExecStart). CI: tests/systemd-nspawn.sh target/debug/easbox
# Needs root. Installs mmdebstrap and systemd-container when missing. The rootfs (about 80 s
# to build) is cached under target/nspawn/, keyed by a hash of its package list and options.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ $# -lt 1 ] || [ ! -f "$1" ]; then
  echo "usage: $0 BINARY [ARG...]" >&2
  exit 2
fi
bin="$(realpath "$1")"; shift
[ "$(id -u)" -eq 0 ] || { echo "systemd-nspawn.sh: needs root" >&2; exit 2; }

need=()
command -v mmdebstrap >/dev/null || need+=(mmdebstrap)
command -v systemd-nspawn >/dev/null || need+=(systemd-container)
if [ ${#need[@]} -gt 0 ]; then
  echo "systemd-nspawn.sh: installing ${need[*]}" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

watchdog="${NSPAWN_WATCHDOG_SEC:-3}"
suite=bookworm
packages="systemd,systemd-sysv,dbus"
mm_opts=(--variant=minbase --architecture=amd64 --include="$packages"
  --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/doc/*'
  --dpkgopt='path-exclude=/usr/share/locale/*')
key="$(printf '%s\n' "$suite" "${mm_opts[@]}" | sha256sum | cut -c1-16)"
cache=target/nspawn
rootfs="$cache/rootfs-$key"
mkdir -p "$cache"

t_start=$(date +%s.%N)
if [ ! -d "$rootfs" ]; then
  echo "systemd-nspawn.sh: building the rootfs ($suite, $packages) into $rootfs" >&2
  rm -rf "$rootfs.tmp"
  mmdebstrap --quiet "${mm_opts[@]}" "$suite" "$rootfs.tmp" >"$cache/mmdebstrap.log" 2>&1 \
    || { cat "$cache/mmdebstrap.log" >&2; exit 1; }
  # A machine id, so journald keeps a journal; no console getty in the way.
  systemd-machine-id-setup --root="$rootfs.tmp" >/dev/null 2>&1
  ln -sf /dev/null "$rootfs.tmp/etc/systemd/system/console-getty.service"
  mv "$rootfs.tmp" "$rootfs"
fi
t_rootfs=$(date +%s.%N)

work="$(mktemp -d "$PWD/$cache/run.XXXXXX")"
cleanup() { rm -rf "$work"; }
trap cleanup EXIT
root="$work/root"
cp -a --reflink=auto "$rootfs" "$root"
mkdir -p "$work/result"

install -m 0755 "$bin" "$root/usr/bin/easbox"
install -m 0644 systemd/easbox.service "$root/usr/lib/systemd/system/easbox.service"
install -m 0644 -D systemd/easbox.sysusers "$root/usr/lib/sysusers.d/easbox.conf"
mkdir -p "$root/etc/systemd/system/easbox.service.d"
{
  echo "# tests/systemd-nspawn.sh: a short watchdog so the test takes seconds, not minutes"
  echo "[Service]"
  echo "WatchdogSec=$watchdog"
  echo "RestartSec=1"
  if [ $# -gt 0 ]; then
    echo "ExecStart="
    printf 'ExecStart=/usr/bin/easbox'; printf ' %s' "$@"; echo
  fi
} >"$root/etc/systemd/system/easbox.service.d/50-nspawn-test.conf"

cat >"$root/usr/local/sbin/easbox-nspawn-check" <<EOF
#!/bin/bash
# Runs inside the container as a oneshot after boot; writes PASS or FAIL to /result/result.
set -u
WATCHDOG=$watchdog
EOF
cat >>"$root/usr/local/sbin/easbox-nspawn-check" <<'EOF'
say() { echo "check: $*" | tee -a /result/log; }
fail() {
  say "FAIL: $*"
  systemctl status easbox --no-pager >>/result/log 2>&1
  journalctl -u easbox --no-pager >/result/journal.txt 2>&1
  echo FAIL >/result/result
  exit 1
}
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
wait_for() { # SECONDS COMMAND...: poll every 0.1 s
  local end=$(( $(date +%s) + $1 )); shift
  until "$@"; do [ "$(date +%s)" -lt "$end" ] || return 1; sleep 0.1; done
}
prop() { systemctl show -p "$1" --value easbox; }
is_active() { [ "$(systemctl is-active easbox)" = active ]; }

# What a package's postinst does (dh_installsysusers): create the user, then start.
systemd-sysusers easbox.conf || fail "systemd-sysusers"
uid=$(id -u easbox) || fail "no easbox user after systemd-sysusers"
systemctl daemon-reload

t0=$(now)
systemctl start --no-block easbox
wait_for 30 is_active || fail "easbox not active 30 s after start (READY=1 not received?): $(systemctl is-active easbox)"
say "active (READY received) after $(since "$t0") s"
[ "$(prop Type)" = notify ] || fail "Type is $(prop Type), not notify"

pid=$(prop MainPID)
[ "$pid" -gt 0 ] || fail "no MainPID"
grep -q "^Uid:[[:space:]]*$uid[[:space:]]" /proc/$pid/status || fail "main process is not uid $uid: $(grep ^Uid /proc/$pid/status)"
capeff=$(sed -n 's/^CapEff:[[:space:]]*//p' /proc/$pid/status)
[ "$capeff" = 0000000000000400 ] || fail "effective capabilities $capeff, want only CAP_NET_BIND_SERVICE (0x400)"
[ "$(stat -c '%a %U' /var/lib/easbox)" = "700 easbox" ] || fail "state dir is $(stat -c '%a %U' /var/lib/easbox)"
say "runs as easbox (uid $uid), CapEff $capeff, /var/lib/easbox 0700"

# The service's own files plus a marker: all must be there after the restart.
marker="nspawn-marker-$RANDOM$RANDOM"
echo "$marker" >/var/lib/easbox/nspawn-marker
chown easbox: /var/lib/easbox/nspawn-marker
before=$(cd /var/lib/easbox && find . -type f | sort)
sum_before=$(cd /var/lib/easbox && find . -type f ! -name 'stand-in-starts' -print0 | sort -z | xargs -0 -r sha256sum)
say "state files: $(echo $before)"

restarts=$(prop NRestarts)
say "stalling pid $pid with SIGSTOP (WatchdogSec=$WATCHDOG, NRestarts=$restarts)"
t0=$(now)
kill -STOP "$pid"
restarted() { [ "$(prop NRestarts)" -gt "$restarts" ] && is_active && [ "$(prop MainPID)" != "$pid" ]; }
wait_for $((WATCHDOG * 4 + 30)) restarted || fail "not restarted: NRestarts=$(prop NRestarts) state=$(systemctl is-active easbox)"
say "restarted and active again after $(since "$t0") s (NRestarts=$(prop NRestarts), new pid $(prop MainPID))"
journalctl -u easbox --no-pager | grep -q "Watchdog timeout" || fail "no 'Watchdog timeout' in the journal"
say "journal: $(journalctl -u easbox --no-pager | grep -m1 'Watchdog timeout' | sed 's/.*\]: //')"

for f in $before; do
  [ -f "/var/lib/easbox/$f" ] || fail "state file $f lost in the restart"
done
[ "$(cat /var/lib/easbox/nspawn-marker)" = "$marker" ] || fail "marker changed"
sum_after=$(cd /var/lib/easbox && find . -type f ! -name 'stand-in-starts' -print0 | sort -z | xargs -0 -r sha256sum)
if [ -f /var/lib/easbox/stand-in-starts ]; then
  [ "$(cat /var/lib/easbox/stand-in-starts)" = 2 ] || fail "stand-in-starts is $(cat /var/lib/easbox/stand-in-starts), want 2"
fi
say "state directory survived the restart"
journalctl -u easbox --no-pager >/result/journal.txt 2>&1
echo PASS >/result/result
EOF
chmod 0755 "$root/usr/local/sbin/easbox-nspawn-check"
cat >"$root/etc/systemd/system/easbox-nspawn-check.service" <<'EOF'
[Unit]
Description=easbox nspawn test driver
After=multi-user.target
[Service]
Type=oneshot
ExecStart=/usr/local/sbin/easbox-nspawn-check
ExecStopPost=/bin/systemctl poweroff --no-block
StandardOutput=journal+console
TimeoutStartSec=150
[Install]
WantedBy=multi-user.target
EOF
mkdir -p "$root/etc/systemd/system/multi-user.target.wants"
ln -s ../easbox-nspawn-check.service "$root/etc/systemd/system/multi-user.target.wants/"

t_boot=$(date +%s.%N)
rc=0
timeout 240 systemd-nspawn --quiet --boot --directory="$root" --register=no --keep-unit \
  --private-network --bind="$work/result:/result" --machine=easbox-test \
  >"$work/console.log" 2>&1 </dev/null || rc=$?
t_end=$(date +%s.%N)

result="$(cat "$work/result/result" 2>/dev/null || echo none)"
cat "$work/result/log" 2>/dev/null || true
if [ "$result" != PASS ]; then
  echo "--- console (nspawn exit $rc) ---" >&2; tail -n 60 "$work/console.log" >&2
  echo "--- journal of easbox ---" >&2; cat "$work/result/journal.txt" >&2 2>/dev/null || true
  echo "systemd-nspawn: 0 passed, 1 failed"
  exit 1
fi
awk -v a="$t_start" -v b="$t_rootfs" -v c="$t_boot" -v d="$t_end" \
  'BEGIN { printf "systemd-nspawn.sh: rootfs %.1f s, boot test %.1f s\n", b - a, d - c }' 
echo "systemd-nspawn: 1 passed, 0 failed"
