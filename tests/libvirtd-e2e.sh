#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# End to end through a real libvirtd: virtlogd and libvirtd run as root in a
# private mount namespace (their /run, /var and /etc on a tmpfs and overlays,
# so nothing of the machine changes).  check reports the missing hook; the
# hook is installed in their hooks/qemu.d (libvirtd told with SIGHUP, as no
# qemu hook existed before).
# A TCG guest tuned with apply --backend=vhost-user starts with virsh start;
# fio writes and verifies its vhost-user disk while the backend is killed
# with SIGKILL and libvirtd is restarted; the guest and its backend go on;
# its power-off stops the backend; so does virsh destroy; revert, and a
# second boot verifies the same data on the original disk, served by QEMU.
VDP_NEEDS="fio busybox"
. "$VDP_SRCDIR/tests/libvirtd-lib.sh"
GUEST="$VDP_BUILDDIR/tests/guest-cache"
if ! sh "$VDP_SRCDIR/tests/guest/mkinitramfs.sh" "$GUEST" 2>"$TMP/mk.err"; then
  echo "1..0 # SKIP cannot build the test guest: $(tail -1 "$TMP/mk.err")"
  exit 0
fi

T0=$(ms)
at () { diag "$(( ($(ms) - T0) / 1000 )) s: $*"; }
virtlogd -d
check "libvirtd started (private /run, /var, /etc)" libvirtd_up

# --- the guest -------------------------------------------------------------------
mkdir "$TMP/guest"
cp "$GUEST/vmlinuz" "$GUEST/initrd" "$TMP/guest/"
IMG=/var/lib/libvirt/images/$NAME.raw
truncate -s 128M "$IMG"
if [ -w /dev/kvm ] && [ ! -d /sys/module/kvm_pvm ]; then
  TYPE=kvm; CPU="<cpu mode='host-passthrough'/>"
else
  TYPE=qemu; CPU="<cpu mode='maximum'/>"
fi
diag "domain type $TYPE"
FIO="--name=v,--rw=randwrite,--bs=4k,--size=64M,--ioengine=libaio,--iodepth=16,--direct=1"
FIO="$FIO,--verify=crc32c,--do_verify=1,--numjobs=2,--offset_increment=64M,--group_reporting"
cat > "$TMP/dom.xml" <<XML
<domain type='$TYPE'>
  <name>$NAME</name>
  <uuid>$UUID</uuid>
  <memory unit='MiB'>512</memory>
  <vcpu placement='static'>2</vcpu>
  <os>
    <type arch='x86_64' machine='q35'>hvm</type>
    <kernel>$TMP/guest/vmlinuz</kernel>
    <initrd>$TMP/guest/initrd</initrd>
    <cmdline>console=ttyS0 quiet panic=-1 vdp.fio=$FIO</cmdline>
  </os>
  <features><acpi/></features>
  $CPU
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>destroy</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>$(command -v qemu-system-x86_64)</emulator>
    <disk type='file' device='disk'>
      <driver name='qemu' type='raw'/>
      <source file='$IMG'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <serial type='file'>
      <source path='$SERIAL' append='on'/>
    </serial>
    <memballoon model='none'/>
  </devices>
</domain>
XML
$V define "$TMP/dom.xml" >/dev/null
run_cmd -c qemu:///system apply --backend vhost-user "$NAME"
check "apply --backend=vhost-user: applied" grep -q "$NAME: applied" "$TMP/out"
$V dumpxml --inactive "$NAME" > "$TMP/tuned.xml"
check "the disk is a vhost-user disk on the runtime directory's socket" \
  grep -q "<source type='unix' path='$RT/vda.sock'>" "$TMP/tuned.xml"
check "shared memfd memory" grep -q "<source type='memfd'/>" "$TMP/tuned.xml"
run_cmd -c qemu:///system check "$NAME"
check "check: the hook is not installed (VDP104)" \
  sh -c "test $RC = 1 && grep -q ' (host): error VDP104 ' '$TMP/out'"

# --- the hook, installed while libvirtd runs: SIGHUP -----------------------------
install_hook
kill -HUP "$(cat /run/libvirtd.pid)"
sleep 1
check "libvirtd reloaded" sh -c "$V version >/dev/null"

run_cmd -c qemu:///system check "$NAME"
check "check: hook installed, the shut-off tuned guest is clean" test "$RC" = 0

at "boot 1"
# --- boot 1: write and verify, kill -9 the backend, restart libvirtd -------------
: > "$SERIAL"
t0=$(ms)
timeout 120 $V start "$NAME" >/dev/null 2>"$TMP/start.err"; RC=$?
START1=$(( $(ms) - t0 ))
diag "virsh start with the backend: $START1 ms"
check "virsh start: the hook started the backend, QEMU connected" sh -c "test $RC = 0 && test -S '$RT/vda.sock'"
B1=$(backend_pid); S1=$(supervisor_pid)
check "the backend runs as QEMU's user" \
  test "$(awk '/^Uid:/ {print $2}' "/proc/$B1/status")" = "$(id -u libvirt-qemu)"
wait_for 120 grep -q VDP-FIO-START "$SERIAL"
check "guest booted and found the disk with 2 queues" grep -q "VDP-QUEUES 2" "$SERIAL"
run_cmd -c qemu:///system status "$NAME" --interval 0.3 --json
jq -e --argjson p "$B1" '.backends[0].pid == $p and (.backends[0].workers | length) >= 1' \
  "$TMP/out" >/dev/null && RC=0 || RC=1
check "status: the backend's pid and its worker threads" test $RC = 0
diag "$(jq -c '.backends[0] | {pid, state, requests, reconnects, workers}' "$TMP/out")"
run_cmd -c qemu:///system check "$NAME"
check "check: running guest with its backend is clean" test "$RC" = 0
at "restart libvirtd"
# libvirtd restarted while the guest runs: reconnect hook, nothing touched
LP=$(cat /run/libvirtd.pid)
kill "$LP"
wait_for 30 sh -c "! kill -0 $LP 2>/dev/null"
check "libvirtd restarted while the guest runs" libvirtd_up
check "the guest still runs" test "$($V domstate "$NAME")" = running
check "the backend and its supervisor are untouched" \
  sh -c "test \"\$(sed -n 's/^backend //p' '$RT/vda.state')\" = '$B1' && kill -0 '$B1' && kill -0 '$S1'"
check "libvirtd ran the hook at reconnect" \
  grep -q "Calling hook .*id=$NAME op=reconnect subop=begin" /var/log/libvirt/libvirtd.log

sleep 1
running=yes; grep -q VDP-FIO-EXIT "$SERIAL" && running=no
kill -9 "$B1"
check "the kill came while fio was running" test "$running" = yes
wait_for 10 sh -c "B=\$(sed -n 's/^backend //p' '$RT/vda.state'); test -n \"\$B\" && test \"\$B\" != '$B1'"
B2=$(backend_pid)
check "kill -9: the supervisor started a new backend" sh -c "test '$B2' != '$B1' && kill -0 '$B2'"

at "waiting for power-off"
wait_for 150 inactive
diag "$(grep -E 'IOPS|err=|VDP-FIO' "$SERIAL")"
check "fio wrote and verified every block across the kill (exit 0, err=0)" \
  sh -c "grep -q 'VDP-FIO-EXIT 0' '$SERIAL' && grep -q 'err= 0' '$SERIAL'"
check "QEMU reconnected to the new backend" \
  grep -q "backend $B1 killed by signal 9" "/var/log/virt-dataplane/$NAME-vda.log"
left=$(ours_left)
check "power-off: release stopped the backend, nothing left" sh -c "test -z '$left' && test ! -e '$RT'"
cp "$IMG" "$TMP/after-boot1.raw"

at "boot 2"
# --- boot 2: virsh destroy stops the backend -----------------------------------
: > "$SERIAL"
t0=$(ms)
timeout 120 $V start "$NAME" >/dev/null
START2=$(( $(ms) - t0 ))
diag "virsh start with the backend (again): $START2 ms"
B=$(backend_pid)
check "second start: a backend" sh -c "test -n '$B' && kill -0 '$B'"
wait_for 120 grep -q VDP-FIO-START "$SERIAL"
# nothing serving the disk: check says so
kill -9 "$(supervisor_pid)" "$B"
run_cmd -c qemu:///system check "$NAME"
check "check: a running guest without its backend (VDP102)" \
  sh -c "test $RC = 1 && grep -q ' $NAME: error VDP102 disk vda: ' '$TMP/out'"
$V destroy "$NAME" >/dev/null
left=$(ours_left)
check "virsh destroy: backend and supervisor stopped, runtime directory gone" \
  sh -c "test -z '$left' && test ! -e '$RT' && test -z \"\$(ls -A /run/virt-dataplane)\""

at "revert, boot 3"
# --- revert, boot 3: the original disk, the data verified ----------------------
run_cmd -c qemu:///system revert "$NAME"
check "revert: reverted" grep -q "$NAME: reverted" "$TMP/out"
$V dumpxml --inactive "$NAME" > "$TMP/reverted.xml"
check "revert: the original file disk, no shared memory, no metadata" \
  sh -c "grep -q \"<source file='$IMG'/>\" '$TMP/reverted.xml' && ! grep -q 'vhostuser\|memfd\|dataplane' '$TMP/reverted.xml'"
# read back and check what boot 1 wrote through the backend
sed 's|--do_verify=1|--do_verify=1,--verify_only|' "$TMP/reverted.xml" > "$TMP/verify.xml"
$V define "$TMP/verify.xml" >/dev/null
: > "$SERIAL"
t0=$(ms)
timeout 120 $V start "$NAME" >/dev/null
START3=$(( $(ms) - t0 ))
diag "virsh start without the backend: $START3 ms"
check "third start: no backend for the original disk" test ! -e "$RT"
wait_for 150 inactive
diag "$(grep -E 'IOPS|err=|VDP-FIO' "$SERIAL")"
check "second boot on the original disk: fio verified boot 1's data (exit 0, err=0)" \
  sh -c "grep -q 'VDP-FIO-EXIT 0' '$SERIAL' && grep -q 'err= 0' '$SERIAL' && grep -q 'VDP-QUEUES' '$SERIAL'"
awk '/starting up/ {buf = ""} {buf = buf $0 "\n"} END {printf "%s", buf}' \
  "/var/log/libvirt/qemu/$NAME.log" > "$TMP/cmdline"
check "QEMU opened the image itself this time (no vhost-user device)" \
  sh -c "grep -q '$IMG' '$TMP/cmdline' && ! grep -q vhost-user '$TMP/cmdline'"
at "done"
done_testing
