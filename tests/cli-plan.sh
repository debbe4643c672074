#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# CLI tests of "virt-dataplane plan": outputs, local-host disk checks (a file
# on tmpfs, a missing source), atomic --output-dir, guests that do not fit,
# the host's other domains as context, isolated PUs, usage and input errors.
. "$VDP_SRCDIR/tests/lib.sh"
EX="$VDP_SRCDIR/examples/domains"
TOPO="$VDP_SRCDIR/examples/topologies"
RNG="$VDP_SRCDIR/tests/data/libvirt-schemas/domain.rng"
command -v jq >/dev/null || { echo "1..0 # SKIP jq not installed"; exit 0; }

# A raw disk on tmpfs (no O_DIRECT) and one that does not exist, on this host.
SHM=$(mktemp -d /dev/shm/vdp-test-XXXXXX)
trap 'rm -rf "$TMP" "$SHM"' EXIT
truncate -s 1M "$SHM/disk.raw"
cat > "$TMP/local.xml" <<XML
<domain type='kvm'>
  <name>local</name>
  <memory unit='MiB'>256</memory>
  <vcpu>2</vcpu>
  <os><type arch='x86_64'>hvm</type></os>
  <devices>
    <disk type='file' device='disk'>
      <driver name='qemu' type='raw'/>
      <source file='$SHM/disk.raw'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <disk type='file' device='disk'>
      <driver name='qemu' type='raw'/>
      <source file='/nonexistent/vdp/disk.raw'/>
      <target dev='vdb' bus='virtio'/>
    </disk>
  </devices>
</domain>
XML
run_cmd plan --file "$TMP/local.xml" --json
check "local disks: exit 0" test "$RC" = 0
# tmpfs refuses O_DIRECT before Linux 6.6 and takes it since: ask the kernel
if dd if="$SHM/disk.raw" of=/dev/null bs=4096 count=1 iflag=direct 2>/dev/null; then
  check "O_DIRECT file: tuned" test "$(jq -r '.domains[0].disks[0].cache' "$TMP/out")" = none
  check "O_DIRECT file: no warning about it" sh -c "! grep -q 'disk vda' '$TMP/err'"
else
  check "no-O_DIRECT file: cache left as is" test "$(jq -r '.domains[0].disks[0].cache' "$TMP/out")" = null
  check "no-O_DIRECT file: warning names the disk" grep -q "disk vda: .*without O_DIRECT.*cache left as is" "$TMP/err"
fi

check "missing source: a warning, not an error" grep -q "disk vdb: source '/nonexistent/vdp/disk.raw' does not exist on this host" "$TMP/err"
check "missing source: cache left, O_DIRECT unknown" test "$(jq -r '.domains[0].disks[1].cache' "$TMP/out")" = null
check "missing source: 'unknown', never 'assumed'" sh -c "jq -r '.domains[0].reasons[].text' '$TMP/out' | grep -q 'takes O_DIRECT is unknown' && ! grep -q assumed '$TMP/out'"
run_cmd plan -q --file "$TMP/local.xml"
check "-q silences warnings" test ! -s "$TMP/err"

# Outputs.
run_cmd plan --topology "$TOPO/24em64t-2n6c2t-pci.xml" --file "$EX/web1.xml" --json
check "--json parses" jq -e '.domains[0].name == "web1"' "$TMP/out"
check "--json: reasons carry rule numbers" jq -e '[.domains[0].reasons[].rule] | index(1) != null' "$TMP/out"
check "--json: every vCPU pinned" jq -e '(.domains[0].vcpus | length) == 2' "$TMP/out"
run_cmd plan --topology "$TOPO/24em64t-2n6c2t-pci.xml" --file "$EX/web1.xml" --diff
check "--diff: unified diff" sh -c "grep -q '^--- a/web1.xml' '$TMP/out' && grep -q '^+  <cputune>' '$TMP/out'"
run_cmd plan --topology "$TOPO/24em64t-2n6c2t-pci.xml" --file "$EX/web1.xml" --xml
check "--xml: one document" sh -c "head -1 '$TMP/out' | grep -q '^<domain'"
command -v xmllint >/dev/null && check "--xml: schema-valid" xmllint --noout --relaxng "$RNG" "$TMP/out"

# --output-dir: all or nothing.
run_cmd plan --topology "$TOPO/192em64t-24n8c2t.xml" --xml --output-dir "$TMP/outdir" \
  --file "$EX/web1.xml" --file "$EX/db1.xml" --file "$EX/scsi1.xml"
check "--output-dir: exit 0" test "$RC" = 0
check "--output-dir: one file per input" test "$(ls "$TMP/outdir" | wc -l)" = 3
check "--output-dir: no temporary files left" test -z "$(ls -A "$TMP/outdir" | grep -v '\.xml$')"
printf '<domain>' > "$TMP/broken.xml"
run_cmd plan --topology "$TOPO/192em64t-24n8c2t.xml" --xml --output-dir "$TMP/outdir2" \
  --file "$EX/web1.xml" --file "$TMP/broken.xml"
check "bad file among good: exit 2" test "$RC" = 2
check "bad file among good: nothing written" test ! -e "$TMP/outdir2"
check "bad file among good: one line naming it" sh -c "test \$(wc -l < '$TMP/err') = 1 && grep -q 'broken.xml' '$TMP/err'"

# Input errors: exit 2, one line, nothing on stdout.
cp "$EX/db1.xml" "$TMP/db1.xml"
for case in \
    "--topology $TOPO/24em64t-2n6c2t-pci.xml --device /srv=nvme7n1 --file $EX/db1.xml|no block device 'nvme7n1'" \
    "--profile nosuchprofile --file $EX/db1.xml|unknown profile 'nosuchprofile'" \
    "--file $TMP/nonexistent.xml|No such file" \
    "--file $VDP_SRCDIR/tests/data/libvirt-schemas/domain.rng|not <domain>"; do
  args=${case%|*}; want=${case#*|}
  # shellcheck disable=SC2086
  run_cmd plan $args
  check "error '$want': exit 2" test "$RC" = 2
  check "error '$want': message" grep -q "$want" "$TMP/err"
  check "error '$want': one line, no output" sh -c "test \$(wc -l < '$TMP/err') = 1 && test ! -s '$TMP/out'"
done
cmp -s "$EX/db1.xml" "$TMP/db1.xml"; check "inputs never modified" test $? = 0

# Usage errors: exit 64.
for args in "" "web1" "--file $EX/web1.xml --xml --json" "--file $EX/web1.xml --output-dir $TMP/x" \
    "--file $EX/web1.xml --isolated 9-3" \
    "--xml --file $EX/web1.xml --file $EX/db1.xml" "--file $EX/web1.xml --target libvirt=x" \
    "--file $EX/web1.xml --device nopath"; do
  # shellcheck disable=SC2086
  run_cmd plan $args
  check "usage error '$args': exit 64" test "$RC" = 64
  check "usage error '$args': one line" test "$(wc -l < "$TMP/err")" = 1
done

# A guest that does not fit fails alone: the others are planned and
# written, it is named on stderr (even with -q) with what it needs, exit 2.
run_cmd plan -q --topology "$TOPO/16em64t-4s2c2t.xml" --profile latency --xml --output-dir "$TMP/fit" \
  --file "$EX/web1.xml" --file "$EX/db1.xml"
check "misfit: exit 2" test "$RC" = 2
check "misfit: the other written" sh -c "test -s '$TMP/fit/web1.xml' && test ! -e '$TMP/fit/db1.xml'"
check "misfit: one line naming it and its needs" sh -c "test \$(wc -l < '$TMP/err') = 1 && grep -q \"domain 'db1' does not fit: needs 16 dedicated vCPUs.*the best node, 0, offers\" '$TMP/err'"
run_cmd plan --topology "$TOPO/16em64t-4s2c2t.xml" --profile latency --json --file "$EX/web1.xml" --file "$EX/db1.xml"
check "misfit: --json marks it" jq -e '.domains[1].failed and .domains[1].misfit.need_vcpus == 16 and (.domains[0].failed | not) and .host.failed == 1' "$TMP/out"
run_cmd plan --topology "$TOPO/16em64t-4s2c2t.xml" --profile latency --file "$EX/web1.xml" --file "$EX/db1.xml"
check "misfit: explained in the text" sh -c "grep -q 'NOT PLANNED' '$TMP/out' && grep -q '^Domain web1' '$TMP/out'"

# The host's other domains (--context): their 1:1 pins and memory are
# worked around, they are not planned or printed.
run_cmd plan --topology "$TOPO/32em64t-2n8c+1mic.xml" --profile latency --json \
  --context "$EX/pinned1.xml" --file "$EX/web1.xml" --file "$EX/netcd1.xml"
check "--context: exit 0" test "$RC" = 0
check "--context: only the planned ones" test "$(jq -r '[.domains[].name] | join(",")' "$TMP/out")" = "web1,netcd1"
check "--context: none of its 1:1 PUs given away" sh -c "! jq -r '.domains[] | (.vcpus[].cpuset, .emulator, .iothreads[].cpuset)' '$TMP/out' | tr ',' '\n' | grep -qxE '[2-5]'"
check "--context: its vCPUs counted on the host" test "$(jq '.host.vcpus' "$TMP/out")" = 10

# A context domain keeps its recorded profile whatever --profile says: a
# latency guest's idle SMT siblings (smt=isolate) stay its own.
cat > "$TMP/small.xml" <<XML
<domain type='kvm'><name>small</name><memory unit='GiB'>2</memory><vcpu>2</vcpu>
<os><type arch='x86_64'>hvm</type></os><devices/></domain>
XML
mkdir "$TMP/lat"
run_cmd plan -q --topology "$TOPO/32em64t-2n8c2t-pci-wholeio.xml" --profile latency \
  --output-dir "$TMP/lat" --xml --file "$TMP/small.xml"
run_cmd plan --topology "$TOPO/32em64t-2n8c2t-pci-wholeio.xml" --profile balanced --json \
  --context "$TMP/lat/small.xml" --file "$EX/web1.xml"
check "--context: its recorded profile, not --profile's" \
  test "$(jq '[.host.nodes[].dedicated] | add' "$TMP/out")" = 4

# Isolated PUs (a saved topology knows none): floating sets stay off them.
run_cmd plan --topology "$TOPO/32em64t-2n8c2t-pci-wholeio.xml" --isolated 0-5,16-21 --json \
  --file "$EX/web1.xml" --file "$EX/netcd1.xml"
check "--isolated: reported" test "$(jq -r '.host.isolated' "$TMP/out")" = "0-5,16-21"
check "--isolated: no floating set on them" sh -c "! jq -r '.domains[] | (.vcpus[].cpuset, .emulator, .iothreads[].cpuset)' '$TMP/out' | grep -qE '(^|[,-])([0-5]|1[6-9]|2[01])([,-]|\$)'"
run_cmd plan --isolated 0-x --file "$EX/web1.xml"
check "--isolated: a bad set is a usage error" sh -c "test $RC = 64 && grep -q 'isolated' '$TMP/err'"

# Why a disk's locality is unknown, and the hint that would tell it.
run_cmd plan --topology "$TOPO/24em64t-2n6c2t-pci.xml" --file "$EX/web1.xml"
check "locality: the reason and the --device hint" grep -q "disk vda: locality of '/var/lib/libvirt/images/web1.qcow2' unknown: .*--device /var/lib/libvirt/images=DEVNAME" "$TMP/out"
run_cmd plan --topology "$TOPO/24em64t-2n6c2t-pci.xml" --device /var/lib/libvirt/images=sda --file "$EX/web1.xml"
check "locality: known with the hint" grep -q "disk vda: '/var/lib/libvirt/images/web1.qcow2' is local to node 0 (sda)" "$TMP/out"
check "locality: the host's overcommit in the text" grep -q "^Host: 2 vCPUs of all its domains on 24 usable PUs" "$TMP/out"

# A 1-node host through a synthetic description, and files given as operands.
run_cmd plan --topology "node:1 core:8 pu:2" --json --file "$EX/web1.xml" "$EX/netcd1.xml"
check "operands after --file are files" test "$(jq '.domains | length' "$TMP/out")" = 2

# A hand-pinned guest keeps its pins; the IOThread it gets is pinned in
# the I/O pool of its vCPUs' node (unpinned, it would run on every host
# PU, other guests' dedicated ones included), and check agrees.
DEMO="test://$VDP_SRCDIR/examples/demo-host.xml"
WHOLEIO="$VDP_SRCDIR/examples/topologies/32em64t-2n8c2t-pci-wholeio.xml"
run_cmd -c "$DEMO" plan legacy-app --topology "$WHOLEIO" --json
check "kept pins: the IOThread has a pin" \
  test "$(jq -r '.domains[0].iothreads[] | select(.cpuset == null) | .id' "$TMP/out")" = ""
check "kept pins: on the vCPUs' node" \
  test "$(jq -r '[.domains[0].iothreads[] | .node] | unique | join(",")' "$TMP/out")" = 0
run_cmd -c "$DEMO" plan legacy-app --topology "$WHOLEIO" --xml
check "kept pins: <iothreadpin> written, the vCPU pins unchanged" \
  sh -c "grep -q '<iothreadpin iothread=\"1\" cpuset=' '$TMP/out' && grep -q '<vcpupin vcpu=\"0\" cpuset=\"4\"/>' '$TMP/out'"

# JSON: a foreign placement is not "kept" (a recorded plan taken as is);
# refused domains have no plan hash; every IOThread lists its queues
run_cmd -c "$DEMO" plan --all --profile latency --topology "$WHOLEIO" --json
check "json: hand-pinned guest's placement is foreign" \
  test "$(jq -r '.domains[] | select(.name == "legacy-app") | .placement' "$TMP/out")" = foreign
check "json: refused domains have a null plan" \
  test "$(jq '[.domains[] | select(.failed and .plan != null)] | length' "$TMP/out")" = 0
check "json: planned domains' hashes are their own" \
  test "$(jq '[.domains[] | select(.plan != null) | .plan] | (length == (unique | length))' "$TMP/out")" = true
check "json: every disk IOThread lists its queues" \
  test "$(jq '[.domains[].disks[].iothreads[] | select(has("queues") | not)] | length' "$TMP/out")" = 0
run_cmd -c "$DEMO" plan --all --profile latency --topology "$WHOLEIO"
check "text: a refused domain's plan is none" \
  sh -c "grep '^Domain web01:' '$TMP/out' | grep -q 'plan none)'"
done_testing
