#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# virt-dataplane-blk against a hostile front-end, on a file on ext4 (the
# O_DIRECT + io_uring path; on tmpfs the backend copies from memory and most
# of this would not be exercised): tests/vdp-blk-client hostile runs about a
# hundred cases (bad descriptors, regions larger than their files, shrunk
# memory, wrong kinds of descriptors, full eventfds, over-long requests,
# stalled clients, ...), each followed by checks that the backend is alive,
# serves a new front-end and another disk with correct data, logged exactly
# the errors the case deserves, and holds no more descriptors, memory or CPU.
# Then every buffer layout reads back what was written to the file
# directly, and writes what the file then holds; and kill -9 in the middle
# of unaligned (bounced) writes completes every request exactly once.
# VDP_BLK_UNDER_TEST names another backend binary to run these against.
. "$VDP_SRCDIR/tests/lib.sh"
BLK="${VDP_BLK_UNDER_TEST:-$VDP_BUILDDIR/src/blk/virt-dataplane-blk}"
CLIENT="$VDP_BUILDDIR/tests/vdp-blk-client"
PIDS=""
MNT=
cleanup () {
  for p in $PIDS; do kill -9 "$p" 2>/dev/null; done
  [ -n "$MNT" ] && umount "$MNT" 2>/dev/null
  rm -rf "$TMP"
}
trap cleanup EXIT

# an ext4 directory for the disks: $TMP itself, or an ext4 image mounted
# there when $TMP is on tmpfs or another file system
DISKS="$TMP"
if [ "$(stat -f -c %T "$TMP")" != ext2/ext3 ]; then
  if [ "$(id -u)" = 0 ] && command -v mkfs.ext4 >/dev/null; then
    truncate -s 512M "$TMP/fs.img"
    mkdir "$TMP/mnt"
    if mkfs.ext4 -q -F "$TMP/fs.img" && mount -o loop "$TMP/fs.img" "$TMP/mnt"; then
      MNT="$TMP/mnt"; DISKS="$MNT"
    fi
  fi
  [ -n "$MNT" ] || { echo "1..0 # SKIP $TMP is not ext4, and no ext4 image could be mounted (needs root and mkfs.ext4)"; exit 0; }
fi
diag "disks on $(stat -f -c %T "$DISKS") ($DISKS)"

wait_socket () {
  i=0; while [ ! -S "$1" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
}

# start NAME FILE [OPTIONS]: a backend on $TMP/NAME.sock logging to
# $TMP/NAME.log; its pid in $PID
start () {
  n=$1; f=$2; shift 2
  rm -f "$TMP/$n.sock"
  "$BLK" --blk-file "$f" --socket-path "$TMP/$n.sock" --log-level info "$@" 2>"$TMP/$n.log" &
  PID=$!; PIDS="$PIDS $PID"
  wait_socket "$TMP/$n.sock"
}

# relay CLIENT-OUTPUT: its "ok NAME" / "not ok NAME: why" lines as TAP
relay () {
  while IFS= read -r line; do
    case $line in
      "ok "*) ok "${line#ok }" ;;
      "not ok "*) not_ok "${line#not ok }" ;;
      "#"*) echo "$line" ;;
    esac
  done <"$1"
}

# the disk: random bytes written by head, not by the backend
head -c $((192 << 20)) /dev/urandom >"$DISKS/disk.raw"
truncate -s 64M "$DISKS/other.raw"

# --- the hostile front-end ---------------------------------------------------
start a "$DISKS/disk.raw" --num-queues 2 --threads 2 --client-timeout 1
A=$PID
start b "$DISKS/other.raw" --num-queues 2
B=$PID
RC=0
"$CLIENT" --socket "$TMP/a.sock" --other "$TMP/b.sock" --pid $A --log "$TMP/a.log" \
  --file "$DISKS/disk.raw" --client-timeout 1 hostile >"$TMP/hostile.out" 2>"$TMP/hostile.err" || RC=$?
relay "$TMP/hostile.out"
check "hostile: the client ran every case ($(tail -1 "$TMP/hostile.out"))" \
  sh -c "test $RC -le 1 && grep -q '^# [0-9]* cases' '$TMP/hostile.out'"
[ -s "$TMP/hostile.err" ] && diag "client: $(cat "$TMP/hostile.err")"
check "hostile: backend still running" kill -0 $A
kill $A $B; wait $A $B 2>/dev/null

# --- descriptor kinds without /proc ------------------------------------------
# where the backend cannot read /proc/self/fd (no /proc, or after dropping
# privileges), eventfds are told from other anonymous inodes another way
if [ "$(id -u)" = 0 ] && command -v unshare >/dev/null \
    && unshare -m true 2>/dev/null; then
  rm -f "$TMP/p.sock"
  unshare -m sh -c 'mount -t tmpfs none /proc && exec "$@"' sh \
    "$BLK" --blk-file "$DISKS/disk.raw" --socket-path "$TMP/p.sock" --num-queues 2 --threads 2 \
    --log-level info 2>"$TMP/p.log" &
  P=$!; PIDS="$PIDS $P"
  wait_socket "$TMP/p.sock"
  start b "$DISKS/other.raw" --num-queues 2
  B=$PID
  RC=0
  "$CLIENT" --socket "$TMP/p.sock" --other "$TMP/b.sock" --pid $P --log "$TMP/p.log" \
    --file "$DISKS/disk.raw" hostile "kick fd: timerfd" "call fd: timerfd" \
    "call fd: full blocking eventfd" >"$TMP/noproc.out" 2>&1 || RC=$?
  sed 's/^\(not \)\{0,1\}ok /&no \/proc: /' "$TMP/noproc.out" >"$TMP/noproc.tap"
  relay "$TMP/noproc.tap"
  check "no /proc: the client ran" test "$RC" -le 1
  check "no /proc: the timerfds were told apart without it" \
    test "$(grep -c 'another anonymous inode' "$TMP/p.log")" = 2
  kill $P $B; wait $P $B 2>/dev/null
else
  skip_test "no /proc: needs root and unshare -m"
fi

# --- the same, with privileges dropped --------------------------------------
# as the qemu hook starts it: root opens the disk and the socket, then the
# backend becomes --user before it reads a message, and with that
# non-dumpable (others, its own user included, can no longer read its /proc
# entries; the process itself still reads its /proc/self/fd)
if [ "$(id -u)" = 0 ] && getent passwd nobody >/dev/null; then
  start u "$DISKS/disk.raw" --num-queues 2 --threads 2 --client-timeout 1 --user nobody
  U=$PID
  start b "$DISKS/other.raw" --num-queues 2
  B=$PID
  check "--user nobody: the backend serves as nobody" \
    grep -q "^Uid:[[:space:]]*$(id -u nobody)[[:space:]]" "/proc/$U/status"
  RC=0
  "$CLIENT" --socket "$TMP/u.sock" --other "$TMP/b.sock" --pid $U --log "$TMP/u.log" \
    --file "$DISKS/disk.raw" --client-timeout 1 hostile >"$TMP/user.out" 2>"$TMP/user.err" || RC=$?
  sed 's/^\(not \)\{0,1\}ok /&as nobody: /' "$TMP/user.out" >"$TMP/user.tap"
  relay "$TMP/user.tap"
  check "as nobody: the client ran every case ($(tail -1 "$TMP/user.out"))" \
    sh -c "test $RC -le 1 && grep -q '^# [0-9]* cases' '$TMP/user.out'"
  [ -s "$TMP/user.err" ] && diag "client: $(cat "$TMP/user.err")"
  check "as nobody: backend still running" kill -0 $U
  check "as nobody: non-dumpable" sh -c "! su nobody -s /bin/sh -c 'ls /proc/$U/fd' 2>/dev/null"
  check "as nobody: the timerfds were refused" \
    test "$(grep -c -E 'anon_inode:\[timerfd\]|another anonymous inode' "$TMP/u.log")" -ge 2
  kill $U $B; wait $U $B 2>/dev/null
else
  skip_test "--user: needs root and a user 'nobody'"
fi

# --- every buffer layout, against the file ------------------------------------
start l "$DISKS/disk.raw" --num-queues 1
L=$PID
RC=0
"$CLIENT" --socket "$TMP/l.sock" --file "$DISKS/disk.raw" layouts >"$TMP/layouts.out" 2>&1 || RC=$?
relay "$TMP/layouts.out"
check "layouts: the client ran" test "$RC" -le 1
kill -TERM $L; wait $L 2>/dev/null
# only requests whose data pieces are not aligned for O_DIRECT bounce:
# ordinary reads (status byte apart, anywhere) go straight to guest memory
want=$(sed -n 's/.*bounced=\([0-9]*\).*/\1/p' "$TMP/layouts.out")
got=$(sed -n 's/.*; \([0-9]*\) requests bounced.*/\1/p' "$TMP/l.log")
check "layouts: only the $want unaligned layouts went through a bounce buffer (backend: ${got:-?})" \
  test "${got:-x}" = "$want"

# --- kill -9 during unaligned writes: each completes exactly once --------------
: >"$TMP/c.log"
start c "$DISKS/disk.raw" --num-queues 2 --threads 2
"$CLIENT" --socket "$TMP/c.sock" --queues 2 --unaligned crash 6 >"$TMP/crash.out" 2>&1 &
CL=$!
# kills while the client writes (6 s), none while it reads back
kills=0
wait_connected "$TMP/crash.out" $CL 1
while kill -0 $CL 2>/dev/null && [ $kills -lt 8 ]; do
  sleep 0.3
  kill -9 $PID 2>/dev/null; wait $PID 2>/dev/null
  cat "$TMP/c.log" >>"$TMP/crash.log"
  start c "$DISKS/disk.raw" --num-queues 2 --threads 2
  kills=$((kills + 1))
  wait_connected "$TMP/crash.out" $CL $((kills + 1))
  grep -q "run again" "$TMP/crash.log" "$TMP/c.log" && [ $kills -ge 3 ] && break
done
RC=0; wait $CL || RC=$?
cat "$TMP/c.log" >>"$TMP/crash.log"
kill $PID 2>/dev/null; wait $PID 2>/dev/null
diag "kill -9 x$kills, unaligned: $(grep -v '^connected$' "$TMP/crash.out")"
check "kill -9, unaligned writes: every request completed exactly once, data verified" test "$RC" = 0
check "kill -9, unaligned writes: requests left in flight ran again" grep -q "run again" "$TMP/crash.log"
done_testing
