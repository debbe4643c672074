#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# virt-dataplane-blk serving I/O, driven by tests/vdp-blk-client (QEMU 7.2's
# side of the socket): every request type with results identical to
# qemu-storage-daemon's, read-only, multiqueue on several threads, indirect
# and EVENT_IDX, dirty logging, reconnects, bad descriptors, and kill -9
# in the middle of I/O with every request completed exactly once.
. "$VDP_SRCDIR/tests/lib.sh"
command -v qemu-storage-daemon >/dev/null \
  || { echo "1..0 # SKIP qemu-storage-daemon not installed (qemu-system-common)"; exit 0; }
BLK="$VDP_BUILDDIR/src/blk/virt-dataplane-blk"
CLIENT="$VDP_BUILDDIR/tests/vdp-blk-client"
PIDS=""
SHM=
trap 'for p in $PIDS; do kill -9 $p 2>/dev/null; done; umount "$TMP/mnt4k" 2>/dev/null; [ -n "${LOOP4K:-}" ] && losetup -d "$LOOP4K" 2>/dev/null; rm -rf "$TMP" ${SHM:+"$SHM"}' EXIT

wait_socket () {
  i=0; while [ ! -S "$1" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
}

# ours FILE SOCKET [OPTIONS]: starts the backend, $OURS is its pid
ours () {
  f=$1; s=$2; shift 2
  rm -f "$s"
  "$BLK" --blk-file "$f" --socket-path "$s" --serial vhost_user_blk --log-level info "$@" \
    2>>"$TMP/blk.err" &
  OURS=$!; PIDS="$PIDS $OURS"
  wait_socket "$s"
}

# qsd FILE SOCKET WRITABLE: qemu-storage-daemon's vhost-user-blk export
qsd () {
  ro=off; [ "$3" = on ] || ro=on
  rm -f "$2"
  qemu-storage-daemon --blockdev "driver=file,node-name=f0,filename=$1,cache.direct=on,aio=io_uring,discard=unmap,read-only=$ro" \
    --export "type=vhost-user-blk,id=e0,node-name=f0,addr.type=unix,addr.path=$2,num-queues=4,writable=$3,logical-block-size=512" \
    2>>"$TMP/qsd.err" &
  QSD=$!; PIDS="$PIDS $QSD"
  wait_socket "$2"
}

stop () { kill "$1" 2>/dev/null; wait "$1" 2>/dev/null || true; }

client () { RC=0; "$CLIENT" "$@" >"$TMP/out" 2>"$TMP/cerr" || RC=$?; }

# bench_on FILE "BACKEND OPTIONS" CLIENT OPTIONS...: one second of the bench
# on a fresh backend; its threads are in $TMP/threads, the result in $TMP/out
bench_on () {
  f=$1; o=$2; shift 2
  # shellcheck disable=SC2086
  ours "$f" "$TMP/n.sock" --num-queues 1 $o
  client --socket "$TMP/n.sock" "$@" --runtime 1 --pid $OURS bench
  cat /proc/$OURS/task/*/comm >"$TMP/threads"
  stop $OURS
}

# no_kernel_workers NAME: the last bench ran, and io_uring handed none of
# its requests to kernel worker threads (iou-wrk-PID)
no_kernel_workers () {
  diag "$1: $(cat "$TMP/out")"
  check "$1: bench ran" jq -e '.ios > 1000' "$TMP/out"
  check "$1: no io_uring worker threads" sh -c "! grep -q '^iou-wrk' '$TMP/threads'"
}

# --- every request type, against the reference ------------------------------
for v in "" "--indirect" "--no-event-idx" "--mem-table" "--indirect --no-event-idx --queue-size 256" \
    "--blocking-eventfds" "no polling"; do
  poll=""; [ "$v" = "no polling" ] && { poll="--poll-max-ns 0"; v=""; }
  truncate -s 0 "$TMP/q.raw" "$TMP/o.raw"; truncate -s 64M "$TMP/q.raw" "$TMP/o.raw"
  qsd "$TMP/q.raw" "$TMP/q.sock" on
  # shellcheck disable=SC2086
  client --socket "$TMP/q.sock" --queues 2 $v functional; cp "$TMP/out" "$TMP/qsd.out"
  stop $QSD
  # shellcheck disable=SC2086
  ours "$TMP/o.raw" "$TMP/o.sock" --num-queues 4 --threads 2 $poll
  # shellcheck disable=SC2086
  client --socket "$TMP/o.sock" --queues 2 $v functional
  stop $OURS
  name="${v:-(EVENT_IDX, direct)}${poll:+ $poll}"
  check "functional $name: client ran" test "$RC" = 0
  check "functional $name: same results as qemu-storage-daemon" cmp -s "$TMP/out" "$TMP/qsd.out"
done
cp "$TMP/out" "$TMP/functional.out"; cp "$TMP/qsd.out" "$TMP/qsd-functional.out"

expect () { grep -q "^$1 *$2" "$TMP/functional.out"; }
check "reads return what was written (both queues)" test "$(grep -c 'match=1' "$TMP/functional.out")" = 4
check "flush: OK" expect flush "status=0"
check "call fd swapped while running: the new one is signalled" expect "flush after call fd swap" "status=0 notified=1"
check "get-id: the serial" expect get-id "status=0 data=2c0d263a7d2b37d9"
check "write-zeroes: OK" expect "write-zeroes 8k" "status=0"
check "discard: OK" expect "discard 8k" "status=0"
check "discard with the unmap flag: UNSUPP" expect "discard with unmap flag" "status=2"
check "read past the end: IOERR" expect "read past the end" "status=1"
check "read of 1000 bytes: IOERR" expect "read of 1000 bytes" "status=1"
check "unknown request type: UNSUPP" expect "unknown type" "status=2"
diag "$(cat "$TMP/functional.out")"

# --- read-only ---------------------------------------------------------------
truncate -s 0 "$TMP/q.raw" "$TMP/o.raw"; truncate -s 64M "$TMP/q.raw" "$TMP/o.raw"
qsd "$TMP/q.raw" "$TMP/q.sock" off
client --socket "$TMP/q.sock" --queues 2 functional; cp "$TMP/out" "$TMP/qsd.out"
stop $QSD
ours "$TMP/o.raw" "$TMP/o.sock" --num-queues 2 --read-only
client --socket "$TMP/o.sock" --queues 2 functional
stop $OURS
check "read-only: same results as qemu-storage-daemon" cmp -s "$TMP/out" "$TMP/qsd.out"
check "read-only: announced" grep -q "read_only=1" "$TMP/out"
check "read-only: writes fail with IOERR" grep -q "^q0 write 64k *status=1" "$TMP/out"
check "read-only: discard fails with IOERR" grep -q "^discard 8k *status=1" "$TMP/out"
cmp -s "$TMP/o.raw" "$TMP/q.raw"
check "read-only: the file is untouched" sh -c "! grep -q . '$TMP/o.raw' 2>/dev/null || test \$(tr -d '\\\\000' < '$TMP/o.raw' | wc -c) = 0"

# --- several threads, several queues, pinned ----------------------------------
ours "$TMP/o.raw" "$TMP/o.sock" --num-queues 4 --threads 2 --cpus 0:1 --queue-map 0,2:1,3
threads=$(ls /proc/$OURS/task | wc -l)
client --socket "$TMP/o.sock" --queues 4 functional
check "multiqueue: all four queues read back what they wrote" \
  test "$(grep -c '^q[0-3] read.*status=0.*match=1' "$TMP/out")" = 8
check "multiqueue: two worker threads besides main" test "$threads" -ge 3
cpus=$(for t in /proc/$OURS/task/*; do grep Cpus_allowed_list "$t/status" | awk '{print $2}'; done | sort -u | tr '\n' ' ')
check "multiqueue: workers pinned to CPU 0 and CPU 1 ($cpus)" sh -c "echo '$cpus' | grep -qw 0 && echo '$cpus' | grep -qw 1"

# --- GET_VRING_BASE with requests in flight ------------------------------------
client --socket "$TMP/o.sock" drain
diag "drain: $(cat "$TMP/out")"
check "GET_VRING_BASE answers after the ring's requests finished" test "$RC" = 0
check "GET_VRING_BASE: every request fetched is in the used ring" \
  grep -q "submitted=42 base=42 used=42" "$TMP/out"

# --- dirty logging (migration) -----------------------------------------------
client --socket "$TMP/o.sock" --queues 2 dirty-log
cp "$TMP/out" "$TMP/log.out"
diag "dirty log: $(cat "$TMP/log.out")"
check "dirty log: data, status and used ring pages marked, nothing else" \
  grep -q "read status=0 data_pages=11 status_page=1 used_ring_page=1 unrelated_page=0" "$TMP/log.out"
qsd "$TMP/q.raw" "$TMP/q.sock" on
client --socket "$TMP/q.sock" --queues 2 dirty-log
stop $QSD
check "dirty log: same pages as qemu-storage-daemon" cmp -s "$TMP/out" "$TMP/log.out"

# --- reconnect without handshake (QEMU 7.2 after a backend restart) -----------
client --socket "$TMP/o.sock" reconnect
check "reconnect without handshake: data still there" grep -q "read after reconnect status=0 same=1" "$TMP/out"
check "reconnect without handshake: writes work" grep -q "write after reconnect status=0" "$TMP/out"
"$CLIENT" --socket "$TMP/o.sock" --wait-for "$TMP/restarted" reconnect >"$TMP/rc.out" 2>&1 &
CL=$!
i=0; while ! grep -q stopped "$TMP/rc.out" && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
stop $OURS
ours "$TMP/o.raw" "$TMP/o.sock" --num-queues 4 --threads 2
touch "$TMP/restarted"
RC=0; wait $CL || RC=$?
check "restarted backend, no handshake: data still there" grep -q "read after reconnect status=0 same=1" "$TMP/rc.out"

# --- bad descriptors: that queue stops, the process and other queues go on ----
client --socket "$TMP/o.sock" --queues 2 --pid $OURS fuzz 13
check "bad chains and messages: backend alive, other queue served" test "$RC" = 0
check "bad chains: every kind stopped its queue" grep -q "13 iterations, 12 deterministic" "$TMP/out"
for why in "loops or is longer" "outside guest memory" "indirect table of 20 bytes" \
    "indirect descriptor inside a chain" "readable descriptor after a writable" "avail index jumped" \
    "past the ring"; do
  check "bad chains: logged '$why'" grep -q "$why.*the queue is stopped" "$TMP/blk.err"
done
check "backend still running" kill -0 $OURS
stop $OURS

# --- kill -9 during I/O: every request completes exactly once -----------------
truncate -s 0 "$TMP/o.raw"; truncate -s 64M "$TMP/o.raw"
: >"$TMP/blk.err"
ours "$TMP/o.raw" "$TMP/o.sock" --num-queues 2 --threads 2
"$CLIENT" --socket "$TMP/o.sock" --queues 2 crash 6 >"$TMP/crash.out" 2>&1 &
CL=$!
kills=0
wait_connected "$TMP/crash.out" $CL 1
while kill -0 $CL 2>/dev/null && [ $kills -lt 15 ]; do
  sleep 0.3
  kill -9 $OURS 2>/dev/null; wait $OURS 2>/dev/null
  ours "$TMP/o.raw" "$TMP/o.sock" --num-queues 2 --threads 2
  kills=$((kills + 1))
  wait_connected "$TMP/crash.out" $CL $((kills + 1))
  grep -q "run again" "$TMP/blk.err" && [ $kills -ge 3 ] && break
done
RC=0; wait $CL || RC=$?
diag "kill -9 x$kills: $(grep -v '^connected$' "$TMP/crash.out")"
check "kill -9: client saw every request complete exactly once, data verified" test "$RC" = 0
check "kill -9: reconnected after each kill" grep -q "reconnects=$kills " "$TMP/crash.out"
check "kill -9: requests left in flight ran again from the inflight region" grep -q "run again" "$TMP/blk.err"
stop $OURS

# --- adaptive polling: the driver stops kicking while the worker polls ---------
for poll in 0 200000; do
  bench_on "null:67108864" "--poll-max-ns $poll" --rw read --iodepth 1
  cp "$TMP/out" "$TMP/poll$poll.json"
  diag "poll-max-ns $poll: $(cat "$TMP/out")"
done
check "no polling: the driver kicks for every request" \
  jq -e '.kicks_skipped * 100 < .ios' "$TMP/poll0.json"
check "polling: kicks suppressed for most requests" \
  jq -e '.kicks_skipped > .kicks' "$TMP/poll200000.json"
# requests in batches (QD32): a wake-up costs little per request, so the
# worker sleeps between batches and the driver kicks again
bench_on "null:67108864" "--poll-max-ns 200000" --rw read --iodepth 32
diag "poll-max-ns 200000, QD32: $(cat "$TMP/out")"
check "polling: none after batches, the driver kicks" jq -e '.kicks > .kicks_skipped' "$TMP/out"

# --- a front-end whose eventfds block (QEMU's never do) -----------------------
# io_uring hands a write to such an eventfd to a kernel worker thread
# (iou-wrk-PID), many times the CPU of the write: notifications must not go
# through the ring
bench_on "null:67108864" "" --blocking-eventfds --rw write --iodepth 1
no_kernel_workers "blocking eventfds"

# --- a file on tmpfs: no O_DIRECT, requests run in the worker -----------------
# io_uring hands every request on tmpfs to a kernel worker thread too, two
# more thread wake-ups per request; the worker does them itself
if [ "$(stat -f -c %T /dev/shm 2>/dev/null)" = tmpfs ]; then
  SHM=$(mktemp -d /dev/shm/vdp-test-XXXXXX)
  truncate -s 64M "$SHM/disk.raw"
  ours "$SHM/disk.raw" "$TMP/m.sock" --num-queues 4 --threads 2
  client --socket "$TMP/m.sock" --queues 2 functional
  stop $OURS
  check "tmpfs file: same results as qemu-storage-daemon" cmp -s "$TMP/out" "$TMP/qsd-functional.out"
  check "tmpfs file: served from memory, logged" grep -q "in memory: no O_DIRECT" "$TMP/blk.err"
  for rw in read write; do
    bench_on "$SHM/disk.raw" "" --rw $rw --iodepth 8
    no_kernel_workers "tmpfs $rw"
  done
  rm -rf "$SHM"
else
  skip_test "tmpfs file: /dev/shm is not a tmpfs"
fi

# --- a block device with 4 KiB sectors (loop device) --------------------------
truncate -s 64M "$TMP/lo.img"
if LOOP=$(losetup --show -f -b 4096 "$TMP/lo.img" 2>/dev/null); then
  ours "$LOOP" "$TMP/l.sock" --num-queues 1
  client --socket "$TMP/l.sock" config
  cp "$TMP/out" "$TMP/lo.config"
  client --socket "$TMP/l.sock" functional
  stop $OURS
  losetup -d "$LOOP"
  diag "loop device: $(cat "$TMP/lo.config")"
  check "block device: its 4096-byte sectors announced" \
    grep -q "capacity=131072 blk_size=4096 physical_block_exp=0 min_io_size=1" "$TMP/lo.config"
  check "block device: data reads back" grep -q "^q0 read 64k .*match=1" "$TMP/out"
  check "block device: a 512-byte write is refused (IOERR)" grep -q "^write 512 at sector 1 *status=1" "$TMP/out"
else
  skip_test "block device: no loop device here (losetup failed)"
fi

# --- a file on ext4 over a device with 4 KiB sectors ---------------------------
# O_DIRECT there refuses 512-byte requests: the file's 4096 comes from the
# file system (statx STATX_DIOALIGN), or a 512-byte guest sees I/O errors
truncate -s 64M "$TMP/lo4k.img"
mkdir -p "$TMP/mnt4k"
if [ "$(id -u)" = 0 ] && command -v mkfs.ext4 >/dev/null \
   && LOOP4K=$(losetup --show -f -b 4096 "$TMP/lo4k.img" 2>/dev/null); then
  if mkfs.ext4 -q -F "$LOOP4K" && mount "$LOOP4K" "$TMP/mnt4k"; then
    head -c $((16 << 20)) /dev/urandom >"$TMP/mnt4k/disk.raw"
    ours "$TMP/mnt4k/disk.raw" "$TMP/f4k.sock" --num-queues 1
    client --socket "$TMP/f4k.sock" config
    cp "$TMP/out" "$TMP/f4k.config"
    client --socket "$TMP/f4k.sock" functional
    stop $OURS
    umount "$TMP/mnt4k"
    diag "file over 4 KiB sectors: $(cat "$TMP/f4k.config")"
    check "file over 4 KiB sectors: 4096-byte blocks announced" \
      grep -q "capacity=32768 blk_size=4096 " "$TMP/f4k.config"
    check "file over 4 KiB sectors: data reads back" grep -q "^q0 read 64k .*match=1" "$TMP/out"
    check "file over 4 KiB sectors: a 512-byte write is refused (IOERR)" \
      grep -q "^write 512 at sector 1 *status=1" "$TMP/out"
  else
    skip_test "file over 4 KiB sectors: no ext4 on the loop device"
  fi
  losetup -d "$LOOP4K"; LOOP4K=
else
  skip_test "file over 4 KiB sectors: needs root, mkfs.ext4 and a loop device"
fi

# --- a null disk (benchmarks) --------------------------------------------------
ours "null:67108864" "$TMP/n.sock" --num-queues 1
client --socket "$TMP/n.sock" --queues 1 functional
check "null disk: requests complete" grep -q "^flush *status=0" "$TMP/out"
stop $OURS
done_testing
