#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Fleet runs as an operator sees them: lines streamed as each domain is
# done, tagged with the host, in name order within a host; a host that
# never answers (a socket that accepts and stays silent) failed after
# --timeout while the others are done; a host that stops answering once
# connected (a real libvirtd behind a relay that goes silent) failed by
# libvirt's keepalive; SIGINT while a host hangs: the results so far and
# exit 130; hosts named twice worked on once.
. "$VDP_SRCDIR/tests/lib.sh"
command -v jq >/dev/null || { echo "1..0 # SKIP jq not installed"; exit 0; }
command -v python3 >/dev/null || { echo "1..0 # SKIP python3 not installed"; exit 0; }
DEMO="test://$VDP_SRCDIR/examples/demo-host.xml"
DTOPO="$VDP_SRCDIR/examples/topologies/32em64t-2n8c2t-pci-wholeio.xml"
PIDS=""
cleanup () { for p in $PIDS; do kill "$p" 2>/dev/null; done; rm -rf "$TMP"; }
trap cleanup EXIT

# wait_for FILE PATTERN: until FILE has a line matching PATTERN (at most 30 s).
wait_for () {
  i=0
  while ! grep -q "$2" "$1" 2>/dev/null; do
    i=$((i + 1)); [ "$i" -le 300 ] || return 1
    sleep 0.1
  done
}

# interrupted_run PATTERN LINES DESC ARGS...: runs virt-dataplane ARGS in
# the background; once $TMP/out has a line matching PATTERN, checks that it
# still runs with LINES lines out (streamed, not held to the end), then
# sends SIGINT and leaves its exit status in RC.
interrupted_run () {
  pattern=$1 lines=$2 desc=$3; shift 3
  "$VDP_BIN" "$@" > "$TMP/out" 2> "$TMP/err" &
  vpid=$!
  wait_for "$TMP/out" "$pattern"
  check "$desc" sh -c "kill -0 $vpid && test \$(grep -c . '$TMP/out') = $lines"
  kill -INT "$vpid"
  RC=0; wait "$vpid" || RC=$?
}

# A host that accepts connections and never answers.
python3 "$VDP_SRCDIR/tests/silent-host.py" silent "$TMP/silent.sock" > "$TMP/silent.out" &
PIDS="$PIDS $!"
wait_for "$TMP/silent.out" ready || not_ok "silent host listening"
SILENT="qemu+unix:///system?socket=$TMP/silent.sock"

# ---- --timeout: the silent host fails alone, the others are done -------------
RC=0
timeout 120 "$VDP_BIN" --timeout 2 -c "$SILENT" -c "$DEMO" apply --all --dry-run \
  --topology "$DTOPO" -q > "$TMP/out" 2> "$TMP/err" || RC=$?
check "silent host: exit 2 (a host failed)" test "$RC" = 2
check "silent host: one failed line for it, saying why" \
  grep -q "^$SILENT (host): failed: cannot connect to '$SILENT': no answer in 2 s (--timeout)$" "$TMP/out"
check "silent host: the other host's 12 domains done" test "$(grep -c "^$DEMO .*: would-change" "$TMP/out")" = 12
run_cmd --timeout 2 -c "$SILENT" check --all --json --topology "$DTOPO"
check "silent host, --json: a failed host object" \
  jq -e -s --arg u "$SILENT" '[.[] | select(.uri == $u)] == [{"uri": $u, "domain": null, "result": "failed", "message": ("cannot connect to '"'"'" + $u + "'"'"': no answer in 2 s (--timeout)"), "plan": null}]' "$TMP/out"
check "silent host: check exits 2" test "$RC" = 2
run_cmd --timeout x list
check "--timeout x: usage error" test "$RC" = 64

# ---- streaming and SIGINT: lines printed while a host still hangs ------------
# -j 1: the demo host first, then the silent one, with no timeout: the demo
# host's lines are out while the run waits; SIGINT ends the wait
interrupted_run "^$DEMO win-desktop: " 12 "streamed: the first host's 12 lines before the run ends" \
  --timeout 0 -c "$DEMO" -c "$SILENT" apply --all --config --live --topology "$DTOPO"
check "SIGINT: exit 130" test "$RC" = 130
check "SIGINT: every result so far printed" test "$(grep -c "^$DEMO .*: applied" "$TMP/out")" = 12
check "SIGINT: the hanging host given up" grep -q "^$SILENT (host): failed: .*interrupted while waiting" "$TMP/out"
check "SIGINT: said on stderr, and in the summary" \
  sh -c "grep -q 'interrupted: finishing the transactions already started' '$TMP/err' && grep -q '12 applied.*; interrupted' '$TMP/err'"
check "lines in domain-name order within the host" \
  sh -c "grep '^$DEMO ' '$TMP/out' | cut -d' ' -f2 | sort -c"

# -j 2 over three hosts, the silent one first: the others' lines come as they are done
sed 's/<name>\([a-z0-9-]*\)</<name>b-\1</' "$VDP_SRCDIR/examples/demo-host.xml" > "$TMP/demo2.xml"
DEMO2="test://$TMP/demo2.xml"
interrupted_run "b-win-desktop" 24 "-j 2: the other hosts listed while the first hangs" \
  --timeout 0 -j 2 -c "$SILENT" -c "$DEMO" -c "$DEMO2" list --json
check "-j 2, SIGINT: exit 130" test "$RC" = 130
check "-j 2: each object with its host" test "$(jq -s '[.[] | select(.uri == null or .uri == "")] | length' "$TMP/out")" = 0

# ---- a host that stops answering once connected: keepalive -------------------
# A real libvirtd (a session daemon as nobody, its test driver), reached
# through a relay that goes silent at virConnectListAllDomains.
if command -v setpriv >/dev/null && [ "$(id -u)" = 0 ] && [ -x /usr/sbin/libvirtd ]; then
  LD=$(mktemp -d /tmp/vdpd-XXXXXX)
  chmod 755 "$LD"; mkdir -m 777 "$LD/run" "$LD/home"
  (cd "$LD" && exec setpriv --reuid=nobody --regid=nogroup --clear-groups \
    env XDG_RUNTIME_DIR="$LD/run" HOME="$LD/home" /usr/sbin/libvirtd --timeout 60) > "$LD/log" 2>&1 &
  LDPID=$!
  PIDS="$PIDS $LDPID"
  i=0
  while [ ! -S "$LD/run/libvirt/libvirt-sock" ] && [ $i -lt 300 ]; do i=$((i + 1)); sleep 0.1; done
  if [ -S "$LD/run/libvirt/libvirt-sock" ]; then
    python3 "$VDP_SRCDIR/tests/silent-host.py" stall "$TMP/stall.sock" "$LD/run/libvirt/libvirt-sock" 273 \
      > "$TMP/stall.out" &
    PIDS="$PIDS $!"
    wait_for "$TMP/stall.out" ready
    STALL="test+unix:///default?socket=$TMP/stall.sock"
    LIVE="test+unix:///default?socket=$LD/run/libvirt/libvirt-sock"
    run_cmd -c "$LIVE" list --name
    check "libvirtd reached: its test driver's domain" grep -qx test "$TMP/out"
    RC=0
    timeout 120 "$VDP_BIN" --timeout 3 -c "$STALL" -c "$LIVE" list > "$TMP/out" 2> "$TMP/err" || RC=$?
    check "stopped answering: exit 2" test "$RC" = 2
    check "stopped answering: failed by keepalive" \
      grep -q "^$STALL (host): failed: list domains on '$STALL': .*keepalive" "$TMP/out"
    check "stopped answering: the other host listed" grep -q "^$LIVE .* test  *running" "$TMP/out"
  else
    not_ok "libvirtd did not start: $(tail -3 "$LD/log")"
  fi
  kill "$LDPID" 2>/dev/null; wait "$LDPID" 2>/dev/null
  rm -rf "$LD"
else
  skip_test "keepalive: needs root, setpriv and libvirtd"
fi

# ---- the host in every message ------------------------------------------------
run_cmd -c "$DEMO" check --all --topology "$DTOPO"
check "check: every finding starts with the host" \
  sh -c "test -s '$TMP/out' && ! grep -v '^$DEMO [a-z0-9-]*: \(warning\|error\|info\) VDP[0-9]* ' '$TMP/out'"
check "check: warnings name the host once" \
  sh -c "grep -q '^virt-dataplane: warning: $DEMO: the NUMA node of' '$TMP/err' && ! grep -q \"host '$DEMO'\" '$TMP/err'"
check "check: a summary on stderr" grep -q "^virt-dataplane: check: [0-9]* findings" "$TMP/err"
run_cmd -c "$DEMO" check --all --json --topology "$DTOPO"
check "check --json: one object per line, each with its host" \
  jq -e -s --arg u "$DEMO" 'length > 0 and all(.uri == $u and (.id | startswith("VDP")))' "$TMP/out"
run_cmd -c "$DEMO" apply --all --dry-run --json --topology "$DTOPO"
check "apply --json: each object with its host" jq -e -s --arg u "$DEMO" 'length == 12 and all(.uri == $u)' "$TMP/out"
check "apply: planner warnings name the host" grep -q "^virt-dataplane: warning: $DEMO: domain 'legacy-app': has pins" "$TMP/err"

# ---- a host named twice is one host -----------------------------------------
printf '%s topology=%s\n' "$DEMO" "$DTOPO" > "$TMP/hosts"
run_cmd -c "$DEMO" --hosts "$TMP/hosts" apply --all --dry-run -q
check "-c and --hosts naming one host: its domains once" test "$(grep -c ': would-change' "$TMP/out")" = 12
check "... with the topology of its hosts-file line" test "$RC" = 3
run_cmd -c "$DEMO" -c "$DEMO" list --name
check "-c twice: listed once" test "$(wc -l < "$TMP/out")" = 12
printf "%s topology='node:2 core:8 pu:2'\n" "$DEMO" > "$TMP/hosts2"
run_cmd --hosts "$TMP/hosts" --hosts "$TMP/hosts2" list
check "one host with two topologies: usage error naming both" \
  sh -c "test $RC = 64 && grep -q \"named twice .* different topologies\" '$TMP/err'"
done_testing
