#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# CLI tests of "virt-dataplane status": through libvirt alone on hosts that
# are not this machine (the test driver's), and with per-thread detail from
# a stand-in QEMU process whose threads are named as QEMU names them.
. "$VDP_SRCDIR/tests/lib.sh"
command -v jq >/dev/null || { echo "1..0 # SKIP jq not installed"; exit 0; }
FAKE="$VDP_BUILDDIR/tests/fake-qemu"

cat > "$TMP/host.xml" <<XML
<node xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>
  <domain type='kvm'>
    <name>web</name><memory unit='GiB'>1</memory><vcpu>2</vcpu>
    <iothreads>1</iothreads>
    <cputune><vcpupin vcpu='0' cpuset='0'/><vcpupin vcpu='1' cpuset='1'/>
      <emulatorpin cpuset='2-3'/><iothreadpin iothread='1' cpuset='3'/></cputune>
    <os><type arch='x86_64'>hvm</type></os>
    <devices><disk type='file' device='disk'><driver name='qemu' type='raw' iothread='1' queues='2'/>
      <source file='/img/web.raw'/><target dev='vda' bus='virtio'/></disk></devices>
  </domain>
  <domain type='kvm'>
    <name>off</name><memory unit='GiB'>1</memory><vcpu>1</vcpu>
    <os><type arch='x86_64'>hvm</type></os>
    <test:runstate>5</test:runstate>
  </domain>
</node>
XML
URI="test://$TMP/host.xml"

# its command line names the guest as libvirt's QEMU's does
"$FAKE" "$TMP/pid" -name guest=web,debug-threads=on -uuid 00000000-0000-0000-0000-000000000000 &
FAKE_PID=$!
trap 'kill $FAKE_PID 2>/dev/null; rm -rf "$TMP"' EXIT
i=0; while [ ! -s "$TMP/pid" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
PID=$(cat "$TMP/pid")

# Through libvirt only: no QEMU process of this machine is involved.
run_cmd -c "$URI" status web --interval 0.1 --json
check "libvirt only: exit 0" test "$RC" = 0
check "libvirt only: not this machine" test "$(jq .host.this_machine "$TMP/out")" = false
check "libvirt only: no pid, no /proc threads" test "$(jq -c '[.pid, (.threads | length)]' "$TMP/out")" = "[null,0]"
check "libvirt only: vCPU pins" test "$(jq -c '[.vcpus[] | [.vcpu, .pin, .state]]' "$TMP/out")" = '[[0,"0","running"],[1,"1","running"]]'
check "libvirt only: the CPU each vCPU runs on" jq -e '[.vcpus[].cpu] | all(. >= 0)' "$TMP/out"
check "libvirt only: vCPU CPU time and use" jq -e '[.vcpus[] | .time >= 0 and .cpu_percent >= 0] | all' "$TMP/out"
check "libvirt only: IOThread and emulator pins" test "$(jq -c '[.iothreads[0].id, .iothreads[0].pin, .emulator.pin]' "$TMP/out")" = '[1,"3","2-3"]'
check "libvirt only: disk map" test "$(jq -c '.disks[0] | [.target,.queues,.iothreads]' "$TMP/out")" = '["vda",2,[1]]'
run_cmd -c "$URI" status web --interval 0.1
check "libvirt only, text: rows and a note" sh -c "grep -q '^  vcpu 1 *1 ' '$TMP/out' && grep -q '^  emulator *2-3 ' '$TMP/out' && grep -q 'no per-thread detail' '$TMP/out'"
run_cmd -c test:///default status test --interval 0.1 --json
check "test:///default: exit 0" test "$RC" = 0
check "test:///default: two vCPUs on its 16 CPUs" test "$(jq -c '[.vcpus[] | .pin]' "$TMP/out")" = '["0-15","0-15"]'

# With the QEMU process: per-thread detail from /proc as well.
run_cmd -c "$URI" status web --pid "$PID" --interval 0.2 --json
check "status: exit 0" test "$RC" = 0
check "status: two vCPU threads, in order" test "$(jq -c '[.threads[] | select(.kind=="vcpu") | .index]' "$TMP/out")" = "[0,1]"
check "status: the IOThread" test "$(jq '[.threads[] | select(.kind=="iothread")] | length' "$TMP/out")" = 1
check "status: the emulator is the main thread" test "$(jq '.threads[] | select(.kind=="emulator") | .tid' "$TMP/out")" = "$PID"
TID=$(jq '.threads[] | select(.kind=="vcpu" and .index==1) | .tid' "$TMP/out")
check "status: vCPU 1 is the thread named so" test "$(cat /proc/$PID/task/$TID/comm)" = "CPU 1/KVM"
check "status: allowed CPUs from /proc" test "$(jq -r ".threads[] | select(.tid==$TID) | .allowed" "$TMP/out")" = "$(sed -n 's/^Cpus_allowed_list:[[:space:]]*//p' /proc/$PID/task/$TID/status)"
check "status: libvirt's pins" test "$(jq -r -c '[.threads[] | select(.kind!="other") | .pin]' "$TMP/out")" = '["0","1","3","2-3"]'
check "status: CPU use is a number" jq -e '[.threads[].cpu_percent] | all(. >= 0)' "$TMP/out"
check "status: the vCPU rows carry their threads" test "$(jq ".vcpus[1].tid" "$TMP/out")" = "$TID"
check "status: the IOThread's CPU use from /proc" jq -e '.iothreads[0].cpu_percent >= 0 and .iothreads[0].tid > 0' "$TMP/out"

run_cmd -c "$URI" status web --pid "$PID" --interval 0.1
check "status text: table and disk line" sh -c "grep -q '^  vcpu 0 ' '$TMP/out' && grep -q 'disk vda: 2 queues on iothread 1' '$TMP/out'"

# Errors: not running, no pid known, bad arguments.
run_cmd -c "$URI" status off
check "not running: exit 2" sh -c "test $RC = 2 && grep -q \"'off' is not running\" '$TMP/err'"
run_cmd -c "$URI" status nosuch --pid "$PID"
check "unknown domain: exit 2" test "$RC" = 2
run_cmd -c "$URI" status web --interval 0
check "bad interval: exit 64" test "$RC" = 64

# --pid must be this guest's QEMU: its command line names it
run_cmd -c "$URI" status web --pid $$ --interval 0.1
check "--pid of another process: exit 2, one line saying so" \
  sh -c "test $RC = 2 && test ! -s '$TMP/out' && test \$(wc -l < '$TMP/err') = 1 && grep -q \"^virt-dataplane: --pid $$ is not the QEMU process of 'web'\" '$TMP/err'"
sleep 60 & OTHER=$!
run_cmd -c "$URI" status web --pid "$OTHER" --interval 0.1
kill "$OTHER" 2>/dev/null
check "--pid of a process without -name: exit 2" test "$RC" = 2
"$FAKE" "$TMP/pid2" -name guest=web2 & FAKE2=$!
i=0; while [ ! -s "$TMP/pid2" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
run_cmd -c "$URI" status web --pid "$(cat "$TMP/pid2")" --interval 0.1
kill "$FAKE2" 2>/dev/null
check "--pid of another guest's QEMU (web2, not web): exit 2" test "$RC" = 2
run_cmd -c "$URI" status web --pid 2147483647 --interval 0.1
check "--pid of no process: exit 2" \
  sh -c "test $RC = 2 && grep -q 'no such process on this machine' '$TMP/err'"

# status takes one domain of one host: it offers only what it takes
run_cmd status --list-options
check "status --list-options: no --state, --jobs, --hosts" \
  sh -c "test $RC = 0 && grep -qx -- --pid '$TMP/out' && ! grep -qxE -- '--(state|jobs|hosts)' '$TMP/out'"
for args in "--jobs 2" "-j 2" "--state running"; do
  # shellcheck disable=SC2086
  run_cmd -c "$URI" status web $args
  check "status $args: usage error" test "$RC" = 64
done
run_cmd -c "$URI" status
check "no domain: exit 64" test "$RC" = 64
done_testing
