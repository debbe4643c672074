#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Every host planned on its own topology: libvirt's test driver as hosts
# unlike this machine (node files whose <cpu> block sets nodes, sockets,
# cores and threads, and test:///default with its NUMA cells), a fleet run
# mixing them, topology -c against virsh nodeinfo, hosts files with a
# topology and device hints per host, refused topologies, disk locality
# through libvirt's storage pools and node devices, progress on a terminal.
. "$VDP_SRCDIR/tests/lib.sh"
command -v jq >/dev/null || { echo "1..0 # SKIP jq not installed"; exit 0; }
command -v virsh >/dev/null || { echo "1..0 # SKIP virsh not installed (libvirt-clients)"; exit 0; }

# domain NAME VCPUS GIB [RUNSTATE] [SOURCE]: a guest with one virtio disk.
domain () {
  src=${5:-/img/$1.raw}
  type=file; attr=file
  case $src in /dev/*) type=block; attr=dev ;; esac
  printf "  <domain type='kvm'>\n    <name>%s</name><memory unit='GiB'>%s</memory><vcpu>%s</vcpu>\n" "$1" "$3" "$2"
  printf "    <os><type arch='x86_64'>hvm</type></os>\n"
  printf "    <devices><disk type='%s' device='disk'><driver name='qemu' type='raw'/><source %s='%s'/><target dev='vda' bus='virtio'/></disk></devices>\n" "$type" "$attr" "$src"
  [ -n "${4:-}" ] && printf "    <test:runstate>%s</test:runstate>\n" "$4"
  printf "  </domain>\n"
}
# node FILE NODES SOCKETS CORES THREADS CPUS MEMORY_KIB: a host's <cpu> block.
node () {
  printf "<node xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>\n  <cpu><mhz>2400</mhz><model>x86_64</model><nodes>%s</nodes><sockets>%s</sockets><cores>%s</cores><threads>%s</threads><active>%s</active></cpu>\n  <memory>%s</memory>\n" "$2" "$3" "$4" "$5" "$6" "$7" > "$1"
}

# Host A: 4 nodes of one 4-core, 2-thread socket: 32 CPUs, 64 GiB.
node "$TMP/a.xml" 4 1 4 2 32 67108864
{ domain big 8 8; domain a1 2 2; domain a2 4 4 5; echo "</node>"; } >> "$TMP/a.xml"
# Host B: 1 node, 2 sockets of 3 cores, no SMT: 6 CPUs, 12 GiB.
node "$TMP/b.xml" 1 2 3 1 6 12582912
{ domain b1 2 2; domain b2 4 4; echo "</node>"; } >> "$TMP/b.xml"
A="test://$TMP/a.xml"; B="test://$TMP/b.xml"; D="test:///default"

# cpus_of SETS...: every CPU number in cpuset strings ("0-3,8"), one a line.
cpus_of () {
  for s in "$@"; do echo "$s"; done | tr ',' '\n' | awk -F- 'NF { if (NF == 1) print $1; else for (i = $1; i <= $2; i++) print i }'
}
# pins FILE HOST: the CPU sets and node sets a dry run's diffs add on HOST.
pins () {
  jq -r --arg u "$2" 'select(.uri == $u) | .diff // ""' "$1" \
    | sed -n 's/^+.*<\(vcpupin\|emulatorpin\|iothreadpin\) .*cpuset=.\([0-9,-]*\).*/\2/p'
}
nodesets () {
  jq -r --arg u "$2" 'select(.uri == $u) | .diff // ""' "$1" | sed -n 's/^+.*nodeset=.\([0-9,-]*\).*/\1/p'
}
max_of () { sort -n | tail -n 1; }

# ---- topology -c: each host's own, counted as virsh nodeinfo counts ------
# nodeinfo URI FIELD: a line of virsh nodeinfo.
nodeinfo () { virsh -c "$1" nodeinfo | sed -n "s/^$2:[[:space:]]*//p"; }
for h in "$A:nodeinfo" "$B:nodeinfo" "$D:capabilities"; do
  uri=${h%:*}; src=${h##*:}
  run_cmd topology -c "$uri" --json
  check "topology -c $uri: exit 0" test "$RC" = 0
  check "topology -c $uri: from $src" test "$(jq -r .host.topology_source "$TMP/out")" = "$src"
  check "topology -c $uri: not this machine" test "$(jq .host.this_machine "$TMP/out")" = false
  check "topology -c $uri: PUs = nodeinfo CPU(s)" test "$(jq .counts.pus "$TMP/out")" = "$(nodeinfo "$uri" 'CPU(s)')"
  check "topology -c $uri: nodes = nodeinfo NUMA cell(s)" test "$(jq .counts.nodes "$TMP/out")" = "$(nodeinfo "$uri" 'NUMA cell(s)')"
  [ "$uri" = "$A" ] && cp "$TMP/out" "$TMP/topo-a"
done
for uri in "$A" "$B"; do
  run_cmd topology -c "$uri" --json -q
  cells=$(nodeinfo "$uri" 'NUMA cell(s)'); sockets=$(nodeinfo "$uri" 'CPU socket(s)'); cores=$(nodeinfo "$uri" 'Core(s) per socket')
  check "topology -c $uri: packages = cells x sockets" test "$(jq .counts.packages "$TMP/out")" = $((cells * sockets))
  check "topology -c $uri: cores = cells x sockets x cores" test "$(jq .counts.cores "$TMP/out")" = $((cells * sockets * cores))
done
run_cmd topology -c "$A"
check "node info host: warned, synthetic" grep -q "warning: host '$A': libvirt gives no NUMA cells: planning on a synthetic topology" "$TMP/err"
check "text: host, source, node info" sh -c "grep -q '^Host: $A' '$TMP/out' && grep -q '^Topology source: nodeinfo' '$TMP/out' && grep -q '^libvirt node info: 32 CPUs, 4 NUMA nodes' '$TMP/out'"
run_cmd topology -c "$D" --json
check "capabilities: node memory from the cells" test "$(jq -c '[.nodes[].memory]' "$TMP/out")" = "[2147483648,4294967296]"
check "capabilities: free memory from the connection" jq -e '[.nodes[].free_memory] | all(. > 0)' "$TMP/out"
check "capabilities: node 1's CPUs" test "$(jq -r '.nodes[1].cpuset' "$TMP/out")" = "8-15"

# ---- a fleet run mixing them: each guest inside its own host's CPUs --------
# (test:///default's guest asks 8 GiB of a host of 6: bound strict, it does
# not fit and fails alone; the density profile's 'preferred' memory leaves
# it unbound and tunes its CPUs)
run_cmd -c "$A" -c "$B" -c "$D" apply --all --dry-run --json -q
check "mixed fleet dry run: exit 2, one guest refused (before changes pending)" test "$RC" = 2
check "mixed fleet dry run: every domain" test "$(jq -s length "$TMP/out")" = 6
check "mixed fleet dry run: the 8 GiB guest refused for memory" \
  jq -e -s 'map(select(.uri == "test:///default"))[0] | .result == "failed" and (.message | test("does not fit.*memory"))' "$TMP/out"
cp "$TMP/out" "$TMP/fleet.json"
run_cmd -c "$D" apply --all --dry-run --json -q --profile density
check "test:///default with density: planned, memory left unbound" sh -c "test $RC = 3 && jq -e -s '.[0].result == \"would-change\"' '$TMP/out' >/dev/null"
cat "$TMP/out" >> "$TMP/fleet.json"
for h in "$A 32 4" "$B 6 1" "$D 16 2"; do
  # shellcheck disable=SC2086
  set -- $h; uri=$1; ncpu=$2; nnode=$3
  # shellcheck disable=SC2046
  max=$(cpus_of $(pins "$TMP/fleet.json" "$uri") | max_of)
  # shellcheck disable=SC2046
  maxn=$(cpus_of $(nodesets "$TMP/fleet.json" "$uri") | max_of)
  check "$uri: guests pinned ($max the highest CPU)" test -n "$max"
  check "$uri: every pin inside its $ncpu CPUs" test "${max:-99999}" -lt "$ncpu"
  if [ "$uri" = "$D" ]; then
    check "$uri: memory bound nowhere (more than the host has)" test -z "$maxn"
  else
    check "$uri: every memory node one of its $nnode" test "${maxn:-99999}" -lt "$nnode"
  fi
done
if [ "$(getconf _NPROCESSORS_ONLN)" -lt 32 ]; then
  # shellcheck disable=SC2046
  check "host A: planned beyond this machine's CPUs" test "$(cpus_of $(pins "$TMP/fleet.json" "$A") | max_of)" -ge "$(getconf _NPROCESSORS_ONLN)"
fi
# shellcheck disable=SC2046
check "host A: guests on several of its 4 nodes" test "$(cpus_of $(nodesets "$TMP/fleet.json" "$A") | sort -u | wc -l)" -ge 2
# applied to the definitions and to the running guests: the hosts take the pins
run_cmd -j 2 -c "$A" -c "$B" apply --all --config --live -q
check "mixed fleet applied, config and live: exit 0" test "$RC" = 0
check "mixed fleet: running guests pinned live" test "$(grep -c ': applied .*config and live$' "$TMP/out")" = 4
run_cmd -c "$D" apply --all --config --live -q --profile density
check "test:///default applied with density, config and live" grep -q ': applied .*config and live$' "$TMP/out"

# ---- plan -c: domain files planned for one host ------------------------------
run_cmd -c "$A" plan --json -q --file "$VDP_SRCDIR/examples/domains/web1.xml"
check "plan -c: exit 0" test "$RC" = 0
check "plan -c: on that host's topology" test "$(jq -r .topology "$TMP/out")" = "libvirt node info of $A"
# shellcheck disable=SC2046
check "plan -c: pins inside its 32 CPUs, beyond nothing" test "$(cpus_of $(jq -r '.domains[].vcpus[].cpuset' "$TMP/out") | max_of)" -lt 32
check "plan -c: the host's stack (test driver: libvirt 9.0)" jq -e '.target | startswith("libvirt 9.0.0")' "$TMP/out"
run_cmd -c "$A" -c "$B" plan --file "$VDP_SRCDIR/examples/domains/db1.xml"
check "plan with two hosts: usage error" test "$RC" = 64

# ---- hosts files: a topology and device hints per host ----------------------
"$VDP_BIN" topology -c "$A" --xml -q > "$TMP/a-topology.xml"
check "--xml: an hwloc topology" grep -q '<topology version="2.0">' "$TMP/a-topology.xml"
cat > "$TMP/hosts" <<EOF
# the fleet
$A topology=a-topology.xml
$B   # no topology given: libvirt's

$D
EOF
run_cmd --hosts "$TMP/hosts" topology --json -q
check "hosts file: three hosts shown" test "$(jq -s length "$TMP/out")" = 3
check "hosts file: A's topology is the file, relative to the hosts file" test "$(jq -s -r '.[0].host.topology_source + " " + .[0].source' "$TMP/out")" = "hosts-file $TMP/a-topology.xml"
check "hosts file: the saved topology is A's" test "$(jq -s -c '.[0].counts' "$TMP/out")" = "$(jq -c .counts "$TMP/topo-a")"
check "hosts file: B and D from libvirt" test "$(jq -s -r '[.[1:][] | .host.topology_source] | join(",")' "$TMP/out")" = "nodeinfo,capabilities"
printf '%s device=/img=nosuchdev\n' "$B" > "$TMP/hosts-bad-dev"
run_cmd --hosts "$TMP/hosts-bad-dev" apply --all --dry-run -q
check "a device hint naming no device of the host: that host fails" sh -c "test $RC = 2 && grep -q \"(host): failed: .*no block device 'nosuchdev'\" '$TMP/out'"
for bad in "$A frobnicate=1" "$A device=relative=sda" "$A 'unterminated"; do
  printf '%s\n' "$bad" > "$TMP/hosts-bad"
  run_cmd --hosts "$TMP/hosts-bad" apply --all --dry-run
  check "hosts file '$bad': usage error naming the line" sh -c "test $RC = 64 && grep -q 'hosts-bad:1' '$TMP/err' && test ! -s '$TMP/out'"
done

# ---- a given topology that disagrees with the host is refused -----------------
T24="$VDP_SRCDIR/examples/topologies/24em64t-2n6c2t-pci.xml"
run_cmd -c "$A" -c "$B" apply --all --dry-run --topology "$T24" -q
check "--topology unlike both hosts: exit 2" test "$RC" = 2
check "--topology unlike the host: one failed line each, naming the counts" sh -c "grep -q \"^$A (host): failed: topology '$T24' (--topology) does not match host '$A': it has 24 CPUs, the host 32\" '$TMP/out' && grep -q \"^$B (host): failed: .*24 CPUs, the host 6; 2 NUMA nodes, the host 1\" '$TMP/out'"
check "--topology refused: the message says --force" grep -q "give --force" "$TMP/out"
run_cmd -c "$B" apply --all --dry-run --topology "$T24" --force -q
check "--force: planned on it anyway" sh -c "test $RC = 3 && test \$(grep -c would-change '$TMP/out') = 2"
printf '%s topology=%s\n%s\n' "$B" "$T24" "$A" > "$TMP/hosts-mixed"
run_cmd --hosts "$TMP/hosts-mixed" apply --all --dry-run -q
check "a host whose topology is refused fails alone" sh -c "test $RC = 2 && grep -q '^$B (host): failed: topology' '$TMP/out' && test \$(grep -c '^$A .*would-change' '$TMP/out') = 3"
printf '%s topology=/nonexistent/topology.xml\n%s\n' "$B" "$A" > "$TMP/hosts-missing"
run_cmd --hosts "$TMP/hosts-missing" apply --all --dry-run -q
check "a host whose topology cannot be read fails alone, with the reason" sh -c "test $RC = 2 && grep -q \"^$B (host): failed: cannot read topology file '/nonexistent/topology.xml'\" '$TMP/out' && grep -q '^$A .*would-change' '$TMP/out'"
run_cmd -c "$B" topology --topology "$T24"
check "topology -c with a disagreeing --topology: exit 2, one line" sh -c "test $RC = 2 && test \$(wc -l < '$TMP/err') = 1 && test ! -s '$TMP/out'"
run_cmd -c "$D" check --all --topology "$T24"
check "check: refused too, a failed line for the host" sh -c "test $RC = 2 && grep -q '^$D (host): failed: .*does not match host' '$TMP/out'"

# ---- disks on another host: libvirt's pools and node devices --------------------
node "$TMP/s.xml" 2 1 4 2 16 33554432
cat >> "$TMP/s.xml" <<EOF
  <pool type='logical'><name>vg0</name>
    <source><device path='/dev/sdc'/><name>vg0</name><format type='lvm2'/></source>
    <target><path>/dev/vg0</path></target>
    <volume type='block'><name>db</name><capacity unit='GiB'>20</capacity><target><path>/dev/vg0/db</path></target></volume>
  </pool>
  <pool type='dir'><name>images</name><target><path>/var/lib/libvirt/images</path></target>
    <volume><name>web.raw</name><capacity unit='GiB'>10</capacity></volume>
  </pool>
  <device><name>pci_0000_3b_00_0</name><parent>computer</parent>
    <capability type='pci'><class>0x010700</class><domain>0</domain><bus>59</bus><slot>0</slot><function>0</function>
      <product id='0x0097'>SAS3008 PCI-Express Fusion-MPT SAS-3</product><vendor id='0x1000'>Broadcom / LSI</vendor>
      <numa node='1'/></capability></device>
  <device><name>block_sdc_35000c500a1b2c3d4</name><parent>pci_0000_3b_00_0</parent>
    <capability type='storage'><block>/dev/sdc</block><drive_type>disk</drive_type><model>ST4000NM0025</model>
      <serial>35000c500a1b2c3d4</serial><size>4000787030016</size></capability></device>
EOF
{ domain db 2 2 "" /dev/vg0/db; domain raw 2 2 "" /dev/sdc; domain web 2 2 "" /var/lib/libvirt/images/web.raw
  domain gone 2 2 "" /var/lib/libvirt/images/gone.raw; domain nfs 2 2 "" /mnt/nfs/nfs.raw; echo "</node>"; } >> "$TMP/s.xml"
S="test://$TMP/s.xml"
home () { jq -r --arg d "$2" 'select(.domain == $d) | .diff' "$1" | sed -n 's/^+.*<memory mode=.strict. nodeset=.\([0-9,-]*\).*/\1/p'; }
run_cmd -c "$S" apply --all --dry-run --json
check "storage host: exit 3 (changes pending)" test "$RC" = 3
cp "$TMP/out" "$TMP/s.json"
check "a volume of a pool on /dev/sdc: on sdc's controller's node" test "$(home "$TMP/s.json" db)" = 1
check "block device /dev/sdc itself: on its controller's node" test "$(home "$TMP/s.json" raw)" = 1
check "a source no pool lists where a pool would: does not exist there" grep -q "domain 'gone': disk vda: source '/var/lib/libvirt/images/gone.raw' does not exist on host '$S'" "$TMP/err"
check "sources libvirt cannot place: one warning for the host, naming --device" sh -c "test \$(grep -c \"warning: $S: the NUMA node of 2 disk sources\" '$TMP/err') = 1 && grep -q 'give --device PATH=DEVNAME' '$TMP/err'"
check "never this machine's filesystem: no 'this host'" sh -c "! grep -q 'this host' '$TMP/err'"
run_cmd -c "$S" apply --all --dry-run --json --device /var/lib/libvirt/images=sdc
check "--device: the dir pool's files on sdc's node" test "$(home "$TMP/out" web)" = 1
check "--device: one source left unplaced" grep -q "the NUMA node of 1 disk source " "$TMP/err"
printf '%s device=/mnt/nfs=sdc\n' "$S" > "$TMP/hosts-dev"
run_cmd --hosts "$TMP/hosts-dev" apply --all --dry-run --json
check "device= in the hosts file: used for that host" test "$(home "$TMP/out" nfs)" = 1
run_cmd -c "$S" topology --json -q
check "topology -c: the host's block devices from libvirt" test "$(jq -c '[.devices[] | [.name, .node, .pci]]' "$TMP/out")" = '[["sdc",1,"0000:3b:00.0"]]'
check "topology -c: the host's stack" jq -e '.host.stack | startswith("libvirt 9.0.0")' "$TMP/out"
run_cmd --hosts "$TMP/hosts-dev" topology --json -q --device /srv=sdc
check "topology: the host's device hints and where each came from" test "$(jq -c '[.host.device_hints[] | [.path, .device, .origin]]' "$TMP/out")" = "[[\"/mnt/nfs\",\"sdc\",\"$TMP/hosts-dev:1\"],[\"/srv\",\"sdc\",\"--device\"]]"
run_cmd --hosts "$TMP/hosts-dev" topology -q
check "topology text: the hints" grep -q "^Device hint: /mnt/nfs on sdc ($TMP/hosts-dev:1)$" "$TMP/out"

# ---- progress on a terminal: hosts and domains ----------------------------------
if script -qec true /dev/null >/dev/null 2>&1; then
  script -qec "'$VDP_BIN' -c '$A' -c '$B' apply --all --dry-run" /dev/null > "$TMP/tty" 2>&1
  check "progress on a terminal: hosts and domains" grep -q "2/2 hosts, 5/5 domains" "$TMP/tty"
  run_cmd -c "$A" -c "$B" apply --all --dry-run
  check "no progress when stderr is not a terminal" sh -c "! grep -q 'hosts,' '$TMP/err'"
else
  skip_test "script(1) cannot run here"
fi
done_testing
