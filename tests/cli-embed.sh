#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# The real QEMU driver, in-process (qemu:///embed, no daemon): apply and
# revert with QEMU 7.2's validation, a plan that libvirt drops restored,
# and a TCG guest (no OS needed: its threads exist once QEMU runs) tuned
# live, with the pins checked on its threads in /proc.
. "$VDP_SRCDIR/tests/lib.sh"
[ "$(id -u)" = 0 ] || { echo "1..0 # SKIP qemu:///embed runs QEMU as root only"; exit 0; }
command -v qemu-system-x86_64 >/dev/null || { echo "1..0 # SKIP qemu-system-x86 not installed"; exit 0; }
command -v virsh >/dev/null || { echo "1..0 # SKIP virsh not installed (libvirt-clients)"; exit 0; }
command -v jq >/dev/null || { echo "1..0 # SKIP jq not installed"; exit 0; }
getent passwd libvirt-qemu >/dev/null || { echo "1..0 # SKIP no libvirt-qemu user (./bootstrap creates it)"; exit 0; }

# A short root: UNIX socket paths are limited to 108 bytes.
ROOT=$(mktemp -d /tmp/vdpe-XXXXXX)
URI="qemu:///embed?root=$ROOT"
cleanup () {
  virsh -q -c "$URI" destroy g1 >/dev/null 2>&1
  [ -s "$ROOT/run/qemu/g1.pid" ] && kill "$(cat "$ROOT/run/qemu/g1.pid")" 2>/dev/null
  rm -rf "$ROOT" "$TMP"
}
trap cleanup EXIT
mkdir -p "$ROOT/etc/qemu"
# QEMU as root, no virtlogd, no security driver: nothing outside $ROOT.
printf 'user = "root"\ngroup = "root"\nsecurity_driver = "none"\nstdio_handler = "file"\n' > "$ROOT/etc/qemu.conf"
truncate -s 4M "$ROOT/disk.raw"
cat > "$TMP/g1.xml" <<XML
<domain type='qemu'>
  <name>g1</name>
  <memory unit='MiB'>128</memory>
  <vcpu placement='static'>2</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <features><acpi/></features>
  <devices>
    <emulator>$(command -v qemu-system-x86_64)</emulator>
    <disk type='file' device='disk'>
      <driver name='qemu' type='raw'/>
      <source file='$ROOT/disk.raw'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <memballoon model='none'/>
  </devices>
</domain>
XML
vsh () { virsh -q -c "$URI" "$@" 2>>"$TMP/virsh.err"; }
vsh define "$TMP/g1.xml" >/dev/null

# this machine, through the in-process driver: recognised from what the
# connection says, so its topology is hwloc's
run_cmd -c "$URI" topology --json
check "embed: this machine" test "$(jq .host.this_machine "$TMP/out")" = true
check "embed: topology from hwloc" test "$(jq -r .host.topology_source "$TMP/out")" = hwloc
check "embed: all of this machine's CPUs" test "$(jq .counts.pus "$TMP/out")" = "$(getconf _NPROCESSORS_ONLN)"
check "embed: as hwloc counts this machine" test "$(jq -c .counts "$TMP/out")" = "$("$VDP_BIN" topology --json | jq -c .counts)"
vsh dumpxml --inactive g1 > "$TMP/before.xml"
check "defined through the embedded QEMU driver" grep -q "<name>g1</name>" "$TMP/before.xml"

# apply (config): the stack is libvirt 9.0 / QEMU 7.2, validated by QEMU's rules
run_cmd -c "$URI" apply g1 -q
check "apply: exit 0" test "$RC" = 0
check "apply: applied" grep -q "g1: applied" "$TMP/out"
vsh dumpxml --inactive g1 > "$TMP/tuned.xml"
check "apply: io=native cache=none kept by QEMU's driver" grep -q "cache='none' io='native'" "$TMP/tuned.xml"
check "apply: an IOThread for the disk" grep -q "iothread='1'" "$TMP/tuned.xml"
run_cmd -c "$URI" check g1
check "check after apply: clean" sh -c "test $RC = 0 && test ! -s '$TMP/out'"

# a plan for libvirt 10.0: the mapping is dropped by 9.0, the original stays
run_cmd -c "$URI" apply g1 -q --target libvirt=10.0,qemu=9.0
check "dropped mapping: exit 2" test "$RC" = 2
check "dropped mapping: restored" grep -q "mapping dropped.*(original restored)" "$TMP/out"
vsh dumpxml --inactive g1 > "$TMP/after-fail.xml"
check "dropped mapping: definition as before the attempt" cmp -s "$TMP/tuned.xml" "$TMP/after-fail.xml"

# revert: exactly the original
run_cmd -c "$URI" revert g1 -q
check "revert: exit 0" test "$RC" = 0
vsh dumpxml --inactive g1 > "$TMP/reverted.xml"
check "revert: the original definition, exactly" cmp -s "$TMP/before.xml" "$TMP/reverted.xml"

# a running TCG guest, tuned live: each vCPU thread where the plan says.
# (latency, a whole core per vCPU, has no PU left here for the emulator of
# a two-vCPU guest when the host has two: the host can never give it
# dedicated PUs, so it gets shared placement, with a warning)
vsh start g1 >/dev/null
check "guest started" test -s "$ROOT/run/qemu/g1.pid"
PID=$(cat "$ROOT/run/qemu/g1.pid")
if [ "$(nproc)" -lt 4 ]; then
  RC=0
  "$VDP_BIN" -c "$URI" apply g1 --config --live --profile latency >"$TMP/out" 2>"$TMP/err" || RC=$?
  check "apply --live latency on $(nproc) PUs: shared instead (exit 0)" test "$RC" = 0
  check "apply --live latency: says why" grep -q "g1.*dedicated placement is impossible on this host: shared instead" "$TMP/err"
  PROFILE=balanced
else
  PROFILE=latency
fi
run_cmd -c "$URI" apply g1 --config --live --profile $PROFILE -q
check "apply --live ($PROFILE): exit 0" test "$RC" = 0
check "apply --live: config and live" grep -q "g1: applied .*config and live" "$TMP/out"
vsh dumpxml --inactive g1 > "$TMP/live.xml"
for v in 0 1; do
  tid=$(grep -l "^CPU $v/" /proc/$PID/task/*/comm | head -1 | xargs dirname)
  allowed=$(sed -n 's/^Cpus_allowed_list:[[:space:]]*//p' "$tid/status")
  planned=$(sed -n "s/.*<vcpupin vcpu='$v' cpuset='\([^']*\)'.*/\1/p" "$TMP/live.xml")
  check "vCPU $v thread pinned as planned ($allowed, planned $planned)" test "$allowed" = "$planned"
done
check "IOThread added live" sh -c "grep -lx 'IO iothread1' /proc/$PID/task/*/comm >/dev/null"
run_cmd -c "$URI" status g1 --interval 0.2 --json
check "status: pins match the threads" jq -e '[.threads[] | select(.kind=="vcpu") | .pin == .allowed] | all' "$TMP/out"
check "status: two vCPU threads, one IOThread" test "$(jq -c '[.threads[] | select(.kind=="vcpu" or .kind=="iothread") | .kind]' "$TMP/out")" = '["vcpu","vcpu","iothread"]'
check "status: this machine, the QEMU process found" jq -e ".host.this_machine and .pid == $PID" "$TMP/out"
check "status: libvirt's vCPU time and use" jq -e '([.vcpus[] | .time >= 0 and .cpu_percent >= 0 and .cpu >= 0] | all) and .vcpus[0].time > 0' "$TMP/out"
check "status: libvirt's pins match the threads'" jq -e '[.vcpus[] | .pin] == [.threads[] | select(.kind=="vcpu") | .allowed]' "$TMP/out"
check "status: the guest's CPU time from the statistics" jq -e '.cpu.time > 0 and .cpu.percent >= 0' "$TMP/out"
check "status: the IOThread's polling from the statistics" jq -e '.iothreads[0].poll_max_ns >= 0' "$TMP/out"
check "status: the disk's block statistics" jq -e '.disks[0].stats.rd_reqs >= 0 and .disks[0].stats.rd_reqs_per_s >= 0' "$TMP/out"
done_testing
