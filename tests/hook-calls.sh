#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# The qemu hook called as libvirt calls it (the installed script, the four
# arguments, the domain XML on stdin, stdout and stderr pipes read to their
# end) on a domain tuned with plan --backend=vhost-user: prepare returns with
# the pipes closed while the backend serves, as QEMU's user, data an
# independent vhost-user client writes and reads back; kill -9 of the backend
# mid-I/O and a new one serves the same socket; a second prepare, reconnect,
# migrate and restore; release leaves no process, socket or file; every
# other call and every domain without backends does nothing, silently.
# The supervisor exercised is the builtin one (systemd is not PID 1 here).
. "$VDP_SRCDIR/tests/hook-lib.sh"

UUID=8a0c4f0e-0d6b-4c55-9a38-0f1bfa4e8d11
DIR="$RUN/$UUID"
SOCK="$DIR/vda.sock"
truncate -s 64M "$TMP/images/h1.raw"
truncate -s 16M "$TMP/images/h1b.raw"
# the domain as apply writes it: plan --backend on this host, for this stack
backend_domain h1 $UUID 2 "$(disk vda "$TMP/images/h1.raw" '<serial>H1-DATA</serial>')" \
  "$(disk vdb "$TMP/images/h1b.raw" '<readonly/>')"
check "plan --backend: sockets under the runtime directory of backend.conf" \
  grep -q "path=\"$SOCK\"" "$TMP/h1.xml"

# --- prepare: backends up, the hook gone, its pipes closed ---------------------
hook h1 prepare begin "$TMP/h1.xml"
diag "prepare: ${HMS} ms until both pipes were closed"
check "prepare: exit 0, pipes closed (not held by the backends)" test "$HRC" = 0
check "prepare: nothing on stdout or stderr" test ! -s "$TMP/hook.out" -a ! -s "$TMP/hook.err"
B1=$(sed -n 's/^backend //p' "$DIR/vda.state")
S1=$(sed -n 's/^supervisor //p' "$DIR/vda.state")
check "prepare: the backend runs after the hook returned" running "$B1"
check "prepare: the vdb backend runs too" running "$(sed -n 's/^backend //p' "$DIR/vdb.state")"
check "prepare: the supervisor is in a session of its own" \
  test "$(ps -o sid= -p "$S1" | tr -d ' ')" != "$(ps -o sid= -p $$ | tr -d ' ')"
for fd in 0 1 2; do
  check "supervisor fd $fd is not the hook's pipe" \
    sh -c "! readlink /proc/$S1/fd/$fd | grep -q pipe"
  check "backend fd $fd is not the hook's pipe" sh -c "! readlink /proc/$B1/fd/$fd | grep -q pipe"
done
check "backend runs as libvirt-qemu" \
  test "$(awk '/^Uid:/ {print $2 $3 $4 $5}' "/proc/$B1/status")" = "$(id -u libvirt-qemu | sed 's/.*/&&&&/')"
check "backend's group is libvirt-qemu, no others" \
  sh -c "grep -q \"^Gid:.$(id -g libvirt-qemu)\" /proc/$B1/status && awk '/^Groups:/ {exit NF != 1}' /proc/$B1/status"
check "backend cannot gain privileges (no_new_privs)" grep -q '^NoNewPrivs:.1' "/proc/$B1/status"
check "socket: owned by libvirt-qemu, mode 0660" \
  test "$(stat -c '%U:%G %a %F' "$SOCK")" = "libvirt-qemu:libvirt-qemu 660 socket"
check "runtime directory: root:libvirt-qemu 0710" \
  test "$(stat -c '%U:%G %a' "$DIR")" = "root:libvirt-qemu 710"
check "backend is told the serial" grep -q -- '--serial=H1-DATA' "/proc/$B1/cmdline"
check "vdb's backend is read-only" \
  sh -c "tr '\\0' ' ' < /proc/$(sed -n 's/^backend //p' "$DIR/vdb.state")/cmdline | grep -q -- --read-only"
check "backend workers named, pinned as the plan says" \
  sh -c "grep -l vdp-blk-w0 /proc/$B1/task/*/comm >/dev/null"

# --- an independent vhost-user client, as QEMU's user ----------------------------
as_qemu "$CLIENT" --socket "$SOCK" --queues 2 functional > "$TMP/fn.out" 2>&1
check "client as libvirt-qemu: writes read back through the backend" \
  test "$(grep -c 'match=1' "$TMP/fn.out")" -ge 2
# the same requests to a backend started by hand with the serial: same answers
truncate -s 64M "$TMP/ref.raw"
"$BLK" --blk-file "$TMP/ref.raw" --socket-path "$TMP/ref.sock" --num-queues 2 --serial H1-DATA 2>/dev/null &
REF=$!
i=0; while [ ! -S "$TMP/ref.sock" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
"$CLIENT" --socket "$TMP/ref.sock" --queues 2 functional > "$TMP/ref.out" 2>&1
kill $REF; wait $REF 2>/dev/null
check "client: every answer as from virt-dataplane-blk --serial H1-DATA (GET_ID included)" \
  cmp -s "$TMP/fn.out" "$TMP/ref.out"
check "the written data is in the image file" cmp -s "$TMP/images/h1.raw" "$TMP/ref.raw"
as_qemu "$CLIENT" --socket "$DIR/vdb.sock" --queues 2 functional > "$TMP/ro.out" 2>&1
check "vdb announced read-only" grep -q "read_only=1" "$TMP/ro.out"
sleep 1.1
check "stats file: requests and connections counted" \
  sh -c "grep -q '^connections 1\$' '$DIR/vda.stats' && ! grep -q '^requests 0\$' '$DIR/vda.stats'"

# --- kill -9 in the middle of I/O: a new backend on the same socket -------------
INO=$(stat -c %i "$SOCK")
as_qemu "$CLIENT" --socket "$SOCK" --queues 2 crash 5 > "$TMP/crash.out" 2>&1 &
CL=$!
wait_connected "$TMP/crash.out" $CL 1
sleep 1
kill -9 "$B1"
i=0; while [ "$(sed -n 's/^backend //p' "$DIR/vda.state")" = "$B1" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
B2=$(sed -n 's/^backend //p' "$DIR/vda.state")
diag "kill -9 $B1: backend $B2 after $((i * 50)) ms"
wait_connected "$TMP/crash.out" $CL 2
sleep 1
kill -9 "$B2"
RC=0; wait $CL || RC=$?
diag "client: $(grep -v '^connected$' "$TMP/crash.out")"
B3=$(sed -n 's/^backend //p' "$DIR/vda.state")
check "kill -9: a new backend process" sh -c "test '$B2' != '$B1' && test '$B3' != '$B2' && kill -0 $B3"
check "kill -9: the same socket (the supervisor holds it)" test "$(stat -c %i "$SOCK")" = "$INO"
check "kill -9: the client reconnected and every write completed once, verified" \
  sh -c "test $RC = 0 && grep -q 'reconnects=2 .*bad_blocks=0' '$TMP/crash.out'"
check "kill -9: the supervisor counted the restarts" grep -q '^restarts 2$' "$DIR/vda.state"
check "kill -9: logged" grep -q "backend $B1 killed by signal 9" "$TMP/log/h1-vda.log"
check "the supervisor is the same" test "$(sed -n 's/^supervisor //p' "$DIR/vda.state")" = "$S1"

# --- a second prepare reuses what runs; reconnect restarts what is missing ----
hook h1 prepare begin "$TMP/h1.xml"
check "second prepare: exit 0" test "$HRC" = 0
check "second prepare: the same backend" test "$(sed -n 's/^backend //p' "$DIR/vda.state")" = "$B3"
hook h1 reconnect begin "$TMP/h1.xml"
check "reconnect with backends running: exit 0, nothing changed" \
  sh -c "test '$HRC' = 0 && test \"\$(sed -n 's/^backend //p' '$DIR/vda.state')\" = '$B3'"
VDB=$(sed -n 's/^backend //p' "$DIR/vdb.state")
kill -9 "$(sed -n 's/^supervisor //p' "$DIR/vdb.state")" "$VDB"
i=0; while running "$VDB" && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
hook h1 reconnect begin "$TMP/h1.xml"
check "reconnect after the vdb supervisor died: exit 0" test "$HRC" = 0
check "reconnect: vdb served again by a new backend" \
  sh -c "B=\$(sed -n 's/^backend //p' '$DIR/vdb.state'); test \"\$B\" != '$VDB' && kill -0 \$B"
as_qemu "$CLIENT" --socket "$DIR/vdb.sock" --queues 1 functional > "$TMP/ro2.out" 2>&1
check "reconnect: the new vdb backend answers" grep -q "read_only=1" "$TMP/ro2.out"

# --- migrate and restore: XML filters; the backends on this host ---------------
for op in migrate restore; do
  hook h1 $op begin "$TMP/h1.xml"
  check "$op begin: exit 0" test "$HRC" = 0
  check "$op begin: the XML passes through unchanged" cmp -s "$TMP/hook.out" "$TMP/h1.xml"
done

# --- release: nothing left -------------------------------------------------
hook h1 release end "$TMP/h1.xml"
check "release: exit 0, silent" sh -c "test '$HRC' = 0 && test ! -s '$TMP/hook.out'"
check "release: no supervisor or backend running" test -z "$(ours)"
check "release: no socket, no runtime directory of the domain" test ! -e "$DIR"
check "release: the runtime directory is empty" test -z "$(ls -A "$RUN")"
hook h1 release end "$TMP/h1.xml"
check "release again: exit 0" test "$HRC" = 0

# --- every other call, and domains without backends: nothing, fast ------------
cp "$TMP/h1-base.xml" "$TMP/plain.xml"
total=0
for call in "start begin" "started begin" "stopped end" "attach begin" "prepare begin" \
            "release end" "reconnect begin"; do
  case $call in
    prepare*|release*|reconnect*) xml="$TMP/plain.xml" ;;
    *) xml="$TMP/h1.xml" ;;
  esac
  # shellcheck disable=SC2086
  hook h1 $call "$xml"
  total=$((total + HMS))
  check "no-op '$call' ($([ "$xml" = "$TMP/plain.xml" ] && echo 'no backends' || echo 'backends recorded')): exit 0, silent" \
    sh -c "test '$HRC' = 0 && test ! -s '$TMP/hook.out' && test ! -s '$TMP/hook.err'"
done
diag "no-op calls: $((total / 7)) ms each on average, pipes included"
left=$(ours)
check "no-op calls started nothing" sh -c "test -z '$left' && test -z \"\$(ls -A '$RUN')\""
hook h1 migrate begin "$TMP/plain.xml"
check "migrate without backends: the XML passes through" cmp -s "$TMP/hook.out" "$TMP/plain.xml"
hook h1 prepare begin /dev/null
check "prepare with an empty XML: exit 0 (nothing of ours)" test "$HRC" = 0
"$VDP_BIN" hook h1 prepare < "$TMP/h1.xml" > "$TMP/out" 2>&1 && RC=0 || RC=$?
check "hook with 3 arguments: usage error" sh -c "test $RC = 64 && grep -q 'expected the 4 arguments' '$TMP/out'"
done_testing
