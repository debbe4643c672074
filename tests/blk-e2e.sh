#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# End to end: a Linux guest under QEMU 7.2 writes and verifies data with fio
# on a vhost-user-blk disk served by virt-dataplane-blk (two queues, two
# threads), while the backend is killed with SIGKILL and started again in
# the middle of the writes; QEMU reconnects and the verify must pass.
. "$VDP_SRCDIR/tests/lib.sh"
for p in qemu-system-x86_64 fio busybox apt-get; do
  command -v $p >/dev/null || { echo "1..0 # SKIP $p not installed"; exit 0; }
done
BLK="$VDP_BUILDDIR/src/blk/virt-dataplane-blk"
GUEST="$VDP_BUILDDIR/tests/guest-cache"
PIDS=""
trap 'for p in $PIDS; do kill -9 $p 2>/dev/null; done; rm -rf "$TMP"' EXIT

if ! sh "$VDP_SRCDIR/tests/guest/mkinitramfs.sh" "$GUEST" 2>"$TMP/mk.err"; then
  echo "1..0 # SKIP cannot build the test guest: $(tail -1 "$TMP/mk.err")"
  exit 0
fi

# /dev/kvm may be a software nested hypervisor (kvm_pvm) where -cpu host
# fails: use TCG there, KVM only where it is the real thing.
if [ -w /dev/kvm ] && [ ! -d /sys/module/kvm_pvm ]; then
  ACCEL="-accel kvm -cpu host"
else
  ACCEL="-accel tcg,thread=multi -cpu max"
fi
diag "accelerator: $ACCEL"

truncate -s 64M "$TMP/disk.raw"
start () {
  rm -f "$TMP/vda.sock"
  "$BLK" --blk-file "$TMP/disk.raw" --socket-path "$TMP/vda.sock" --num-queues 2 --threads 2 \
    --log-level info 2>>"$TMP/blk.err" &
  B=$!; PIDS="$PIDS $B"
  i=0; while [ ! -S "$TMP/vda.sock" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
}
start

FIO="--name=v,--rw=randwrite,--bs=4k,--size=24M,--ioengine=libaio,--iodepth=16,--direct=1"
FIO="$FIO,--verify=crc32c,--do_verify=1,--numjobs=2,--offset_increment=24M,--group_reporting"
# shellcheck disable=SC2086
timeout 300 qemu-system-x86_64 $ACCEL -m 512 -smp 2 -nographic -no-reboot \
  -machine q35,memory-backend=mem0 -object memory-backend-memfd,id=mem0,size=512M,share=on \
  -kernel "$GUEST/vmlinuz" -initrd "$GUEST/initrd" \
  -append "console=ttyS0 quiet panic=-1 vdp.fio=$FIO" \
  -chardev "socket,id=vu0,path=$TMP/vda.sock,reconnect=1" \
  -device vhost-user-blk-pci,chardev=vu0,num-queues=2 >"$TMP/serial.log" 2>&1 &
Q=$!; PIDS="$PIDS $Q"

i=0; while ! grep -q VDP-FIO-START "$TMP/serial.log" && kill -0 $Q 2>/dev/null && [ $i -lt 1200 ]; do
  sleep 0.1; i=$((i + 1))
done
check "guest booted and found the disk with 2 queues" grep -q "VDP-QUEUES 2" "$TMP/serial.log"
# in the middle of the writes: SIGKILL, and a new backend on the same socket
sleep 1.5
running=yes; grep -q VDP-FIO-EXIT "$TMP/serial.log" && running=no
kill -9 $B; wait $B 2>/dev/null
start
RC=0; wait $Q || RC=$?
kill $B; wait $B 2>/dev/null || true
diag "$(grep -E 'IOPS|err=|VDP-FIO' "$TMP/serial.log")"
check "QEMU ran the guest to its power-off" test "$RC" = 0
check "the kill came while fio was running" test "$running" = yes
check "fio wrote and verified every block (exit 0, err=0)" grep -q "VDP-FIO-EXIT 0" "$TMP/serial.log"
check "fio reported no error" grep -q "err= 0" "$TMP/serial.log"
check "QEMU reconnected to the restarted backend" \
  test "$(grep -c 'front-end connected' "$TMP/blk.err")" -ge 2
check "the data is on the backing file" sh -c "test \$(tr -d '\\\\000' < '$TMP/disk.raw' | head -c 1000 | wc -c) -gt 0"
done_testing
