#!/bin/sh
# Checks the shipped systemd files offline: the unit's security exposure (CI gate: <= 1.5), that
# `systemd-analyze verify` accepts it, and that the sysusers and tmpfiles entries apply to an empty root.
# usage: systemd_unit_test.sh SOURCE_DIR [MAX_EXPOSURE]
set -eu
src=${1:?source dir}
max=${2:-1.5}
unit="$src/systemd/oktaguard.service"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# systemd 252 evaluates a unit file directly with --offline=true; the path must name the file.
out=$(systemd-analyze security --offline=true --no-pager "$unit" 2>&1) || true
line=$(printf '%s\n' "$out" | grep 'Overall exposure level for oktaguard.service:' || true)
if [ -z "$line" ]; then
  printf '%s\n' "$out"
  echo "FAIL: no 'Overall exposure level' line"
  exit 1
fi
level=$(printf '%s\n' "$line" | sed -n 's/.*oktaguard.service: \([0-9][0-9]*\.[0-9]\).*/\1/p')
echo "exposure: $level (max $max)"
if ! awk -v l="$level" -v m="$max" 'BEGIN { exit !(l != "" && l + 0 <= m + 0) }'; then
  printf '%s\n' "$out" | grep '✗' || true
  echo "FAIL: exposure $level is above $max"
  exit 1
fi

# verify checks that ExecStart= binaries exist; point them at one that does.
sed -e 's|/usr/bin/oktaguard|/bin/true|g' "$unit" > "$work/oktaguard.service"
if ! systemd-analyze verify --man=no "$work/oktaguard.service"; then
  echo "FAIL: systemd-analyze verify"
  exit 1
fi
for key in Type=notify WatchdogSec= Restart=on-failure StateDirectory=oktaguard ConfigurationDirectory=oktaguard \
           LoadCredential=okta-token: SetCredential=okta-token: SetCredential=okta-private-key: \
           SetCredential=kafka-sasl-password: 'ExecReload=/bin/kill -HUP $MAINPID' NoNewPrivileges=yes ProtectSystem=strict \
           'CapabilityBoundingSet=$' MemoryDenyWriteExecute=yes SystemCallFilter=@system-service \
           Environment=GLIBC_TUNABLES=glibc.malloc.hugetlb=1; do
  grep -q "^$key" "$unit" || { echo "FAIL: $key missing from the unit"; exit 1; }
done

mkdir -p "$work/root/etc"
systemd-sysusers --root="$work/root" "$src/systemd/oktaguard.sysusers" > /dev/null
grep -q '^oktaguard:' "$work/root/etc/passwd" || { echo "FAIL: sysusers did not create the user"; exit 1; }
if [ "$(id -u)" = 0 ]; then
  systemd-tmpfiles --create --root="$work/root" "$src/systemd/oktaguard.tmpfiles"
  [ "$(stat -c %a "$work/root/etc/oktaguard/credentials")" = 700 ] || { echo "FAIL: credentials dir mode"; exit 1; }
else
  echo "not root: tmpfiles application skipped"
fi
echo PASS
