# SPDX-License-Identifier: LGPL-2.1-or-later
# TAP helpers for the shell tests: ok/not ok lines, a plan at the end.
# shellcheck shell=sh
: "${VDP_BIN:?run through make check}"
TAP_N=0
TAP_FAILED=0
TMP=$(mktemp -d "${TMPDIR:-/tmp}/vdp-test-XXXXXX")
trap 'rm -rf "$TMP"' EXIT

ok () { TAP_N=$((TAP_N + 1)); echo "ok $TAP_N - $*"; }
not_ok () { TAP_N=$((TAP_N + 1)); TAP_FAILED=$((TAP_FAILED + 1)); echo "not ok $TAP_N - $*"; }
skip_test () { TAP_N=$((TAP_N + 1)); echo "ok $TAP_N # SKIP $*"; }
diag () { echo "# $*"; }

# check DESCRIPTION COMMAND...: ok when the command succeeds.
check () {
  desc=$1; shift
  if "$@"; then ok "$desc"; else not_ok "$desc"; fi
}

# run_cmd ARGS...: runs virt-dataplane, leaving $TMP/out, $TMP/err and $RC.
run_cmd () {
  RC=0
  "$VDP_BIN" "$@" >"$TMP/out" 2>"$TMP/err" || RC=$?
}

done_testing () {
  echo "1..$TAP_N"
  [ "$TAP_FAILED" -eq 0 ]
}

# wait_connected OUTPUT PID N: waits (at most 20 s, or until PID ends) for
# vdp-blk-client's crash mode, writing to OUTPUT, to have said "connected"
# N times, so that a test kills the backend while the client does I/O,
# never in the middle of its handshake.
wait_connected () {
  _i=0
  while [ "$(grep -c '^connected$' "$1")" -lt "$3" ] && kill -0 "$2" 2>/dev/null \
        && [ $_i -lt 200 ]; do
    sleep 0.1; _i=$((_i + 1))
  done
}
