#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# CLI tests of apply and revert through libvirt's test driver: results,
# JSON lines, dry runs, exit codes, an unreachable host among good ones,
# a plan libvirt 9.0 would not keep (the original is restored), and the
# host's inventory: named domains planned around the others, recorded
# profiles kept, a guest that does not fit failing alone, hand pins.
. "$VDP_SRCDIR/tests/lib.sh"
command -v jq >/dev/null || { echo "1..0 # SKIP jq not installed"; exit 0; }
TOPO="$VDP_SRCDIR/examples/topologies/24em64t-2n6c2t-pci.xml"

# The test driver's host has the CPUs, nodes and memory of $TOPO.
cat > "$TMP/host.xml" <<XML
<node>
  <cpu><nodes>2</nodes><sockets>1</sockets><cores>6</cores><threads>2</threads><active>24</active></cpu>
  <memory>37748736</memory>
  <domain type='kvm'>
    <name>web</name><memory unit='GiB'>2</memory><vcpu>2</vcpu>
    <os><type arch='x86_64'>hvm</type></os>
    <devices><disk type='file' device='disk'><driver name='qemu' type='raw'/>
      <source file='/img/web.raw'/><target dev='vda' bus='virtio'/></disk></devices>
  </domain>
  <domain type='kvm' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>
    <name>db</name><memory unit='GiB'>8</memory><vcpu>8</vcpu>
    <os><type arch='x86_64'>hvm</type></os>
    <devices><disk type='block' device='disk'><driver name='qemu' type='raw'/>
      <source dev='/dev/sdb'/><target dev='vda' bus='virtio'/></disk></devices>
    <test:runstate>5</test:runstate>
  </domain>
</node>
XML
URI="test://$TMP/host.xml"

run_cmd -c "$URI" apply --all --topology "$TOPO"
check "apply --all: exit 0" test "$RC" = 0
check "apply --all: a line per domain" test "$(grep -c ': applied (plan [0-9a-f]*)' "$TMP/out")" = 2
check "apply --all: the running guest keeps its old settings, said on its line" \
  grep -q "^$URI web: applied (plan [0-9a-f]*): config; the running guest keeps its old settings until it restarts$" "$TMP/out"
check "apply --all: and in a warning naming the host and the domain" \
  grep -q "^virt-dataplane: warning: $URI: web: the running guest keeps its old settings until it restarts" "$TMP/err"

run_cmd -c "$URI" apply web --dry-run --topology "$TOPO" -q
check "dry run: would-change with a diff" sh -c "grep -q 'web: would-change' '$TMP/out' && grep -q '^+    <vcpupin' '$TMP/out'"

run_cmd -c "$URI" apply --all --json --topology "$TOPO" -q
check "--json: one object per line" test "$(jq -s length "$TMP/out")" = 2
check "--json: results" test "$(jq -r -s '[.[].result] | join(",")' "$TMP/out")" = "applied,applied"

# An unreachable host among good ones: the others are done, exit 2.
run_cmd -c test:///nonexistent/host.xml -c "$URI" apply --all --topology "$TOPO" -q
check "unreachable host: exit 2" test "$RC" = 2
check "unreachable host: one failed line for the host" grep -q "^test:///nonexistent/host.xml (host): failed: cannot connect" "$TMP/out"
check "unreachable host: the other host applied" test "$(grep -c ': applied' "$TMP/out")" = 2
check "unreachable host: summary on stderr" grep -q "2 applied.*1 failed" "$TMP/err"

# Planning for libvirt 10.0 against this 9.0 driver: the mapping is dropped.
if pkg-config --atleast-version=10.0.0 libvirt; then
  skip_test "this libvirt keeps disk IOThread mappings"
else
  run_cmd -c "$URI" apply --all --target libvirt=10.0,qemu=9.0 --topology "$TOPO" -q
  check "dropped mapping: exit 2" test "$RC" = 2
  check "dropped mapping: restored, reported" test "$(grep -c 'mapping dropped.*(original restored)' "$TMP/out")" = 2
fi

run_cmd -c "$URI" revert --all
check "revert of untuned domains: not-tuned, exit 0" sh -c "test $RC = 0 && test \$(grep -c ': not-tuned' '$TMP/out') = 2"

# Usage errors.
for args in "apply" "apply --all web" "revert" "apply --all --target nonsense"; do
  # shellcheck disable=SC2086
  run_cmd -c "$URI" $args
  check "usage error '$args': exit 64" test "$RC" = 64
done
# a missing hosts file is a missing input, as --file and --topology are
run_cmd -c "$URI" apply --all --hosts /nonexistent
check "missing --hosts file: exit 2" test "$RC" = 2
# -j: several hosts at once, the same results in the same order
sed 's/<name>web</<name>web2</; s/<name>db</<name>db2</' "$TMP/host.xml" > "$TMP/host2.xml"
sed 's/<name>web</<name>web3</; s/<name>db</<name>db3</' "$TMP/host.xml" > "$TMP/host3.xml"
run_cmd -c "$URI" -c "test://$TMP/host2.xml" -c "test://$TMP/host3.xml" apply --all --topology "$TOPO" -q
cp "$TMP/out" "$TMP/serial"
run_cmd -j 3 -c "$URI" -c "test://$TMP/host2.xml" -c "test://$TMP/host3.xml" apply --all --topology "$TOPO" -q
check "-j 3: exit 0" test "$RC" = 0
# hosts interleave by line, as they finish; each host's lines in name order
check "-j 3: the same results" sh -c "sort '$TMP/out' | cmp -s - \"\$(sort '$TMP/serial' > '$TMP/s1'; echo '$TMP/s1')\""
for h in "$URI" "test://$TMP/host2.xml" "test://$TMP/host3.xml"; do
  check "-j 3: $h's lines in domain-name order" sh -c "grep '^$h ' '$TMP/out' | cmp -s - \"\$(grep '^$h ' '$TMP/out' | sort > '$TMP/s2'; echo '$TMP/s2')\""
done
check "-j 3: six domains" test "$(grep -c ': applied' "$TMP/out")" = 6
run_cmd -j 0 -c "$URI" apply --all
check "-j 0: usage error" test "$RC" = 64

# The shipped demo host: every domain planned, applied to config and live.
DEMO="test://$VDP_SRCDIR/examples/demo-host.xml"
DTOPO="$VDP_SRCDIR/examples/topologies/32em64t-2n8c2t-pci-wholeio.xml"
# a disk given as /dev/NAME that libvirt lists no node device for: the
# topology's device of that name, as plan --file reads it
run_cmd -c "$DEMO" plan pg-primary --topology "$DTOPO" -q
check "/dev/NAME on a host: the topology's device" grep -q "disk vdb: '/dev/sda' is local to node 0 (sda)" "$TMP/out"
run_cmd -c "$DEMO" apply --all --dry-run --topology "$DTOPO" -q
check "demo host: 12 would change, exit 3" sh -c "test $RC = 3 && test \$(grep -c ': would-change' '$TMP/out') = 12"
run_cmd -c "$DEMO" apply --all --config --live --topology "$DTOPO" -q
check "demo host: 12 applied, config and live" sh -c "test $RC = 0 && test \$(grep -c ': applied' '$TMP/out') = 12"
check "demo host: running guests pinned live" test "$(grep -c 'config and live$' "$TMP/out")" = 7
check "demo host: foreign pins kept" grep -q "legacy-app: applied .*pins kept" "$TMP/out"

# -j on one host: its domains side by side, the same results in order
run_cmd -c "$DEMO" apply --all --topology "$DTOPO" -q
cp "$TMP/out" "$TMP/serial1"
run_cmd -j 4 -c "$DEMO" apply --all --topology "$DTOPO" -q
check "-j 4 on one host: same results, same order" cmp -s "$TMP/out" "$TMP/serial1"
# --state picks domains by state
run_cmd -c "$DEMO" apply --state shutoff --dry-run --topology "$DTOPO" -q
check "--state shutoff: exit 3" test "$RC" = 3
check "--state shutoff: the 4 stopped domains" test "$(grep -c ': would-change' "$TMP/out")" = 4
run_cmd -c "$DEMO" check --state running --topology "$DTOPO"
check "--state running with check" sh -c "test $RC = 1 && ! grep -q '^ci-runner1:' '$TMP/out'"
run_cmd -c "$DEMO" apply --state paused
check "--state paused: usage error" test "$RC" = 64
# --state is a global option: before the command too
run_cmd -c "$DEMO" --state shutoff apply --dry-run --topology "$DTOPO" -q
check "--state before the command" test "$(grep -c ': would-change' "$TMP/out")" = 4

# ---- one inventory per host ------------------------------------------
DTOPO="$VDP_SRCDIR/examples/topologies/32em64t-2n8c2t-pci-wholeio.xml"
EX="$VDP_SRCDIR/examples/domains"
# node FILE DOMAIN.xml...: a test-driver host holding these definitions,
# with the CPUs, nodes and memory of $DTOPO
node () {
  out=$1; shift
  { echo "<node>"
    echo "<cpu><nodes>2</nodes><sockets>1</sockets><cores>8</cores><threads>2</threads><active>32</active></cpu>"
    echo "<memory>67108864</memory>"
    for f in "$@"; do grep -v '^<?xml' "$f"; done; echo "</node>"; } > "$out"
}
# pus_of FILE NAME: the PUs the dry-run diff of NAME pins a vCPU to, one a line
pus_of () {
  awk -v d="$2" '/^--- a\//{on = ($0 == "--- a/" d)} on && /^\+ *<vcpupin/' "$1" \
    | sed 's/.*cpuset="\([^"]*\)".*/\1/' | tr ',' '\n'
}
# A guest tuned for latency before; another to tune now, alone.
# (planned for this libvirt, as apply through the test driver plans)
run_cmd plan -q --topology "$DTOPO" --profile latency --target libvirt=9.0 --xml --file "$EX/netcd1.xml"
cp "$TMP/out" "$TMP/tuned-netcd1.xml"
node "$TMP/inv.xml" "$TMP/tuned-netcd1.xml" "$EX/web1.xml" "$EX/scsi1.xml"
run_cmd -c "test://$TMP/inv.xml" apply web1 --profile latency --dry-run --topology "$DTOPO" -q
check "named domain: planned alone, exit 3 (changes pending)" sh -c "test $RC = 3 && test \$(grep -c ': would-change' '$TMP/out') = 1"
grep -o 'vcpupin vcpu="[0-9]*" cpuset="[0-9]*"' "$TMP/tuned-netcd1.xml" | sed 's/.*cpuset="\([0-9]*\)"/\1/' > "$TMP/taken"
pus_of "$TMP/out" web1 > "$TMP/mine"
check "named domain: the other guest's dedicated PUs not given again" sh -c "test -s '$TMP/mine' && ! grep -qxFf '$TMP/taken' '$TMP/mine'"
# each tuned domain keeps its recorded profile unless --profile says otherwise
run_cmd -c "test://$TMP/inv.xml" apply --all --topology "$DTOPO" -q --json
check "recorded profile kept: the latency guest unchanged" \
  jq -e -s 'map(select(.domain == "netcd1"))[0].result == "unchanged"' "$TMP/out"
run_cmd -c "test://$TMP/inv.xml" apply netcd1 --profile balanced --dry-run --topology "$DTOPO" -q
check "--profile given: re-planned with it" grep -q 'netcd1: would-change' "$TMP/out"

# One guest that does not fit fails alone: the others applied, exit 2.
sed 's/<name>db1</<name>huge</; s/>16</>64</' "$EX/db1.xml" > "$TMP/huge.xml"
node "$TMP/fit.xml" "$EX/web1.xml" "$TMP/huge.xml" "$EX/scsi1.xml"
run_cmd -c "test://$TMP/fit.xml" apply --all --profile latency --topology "$DTOPO" -q
check "misfit: exit 2" test "$RC" = 2
check "misfit: the others applied" test "$(grep -c ': applied' "$TMP/out")" = 2
check "misfit: failed with what it needs" grep -q "huge: failed: domain 'huge' does not fit: needs 64 dedicated vCPUs" "$TMP/out"

# A host with a hand-pinned guest still tunes the rest, around its pins.
node "$TMP/hand.xml" "$EX/pinned1.xml" "$EX/web1.xml" "$EX/netcd1.xml"
run_cmd -c "test://$TMP/hand.xml" apply --all --profile latency --dry-run --topology "$DTOPO" -q
check "hand-pinned guest: the others tuned, exit 3 (changes pending)" sh -c "test $RC = 3 && test \$(grep -c ': would-change' '$TMP/out') = 3"
for d in web1 netcd1; do pus_of "$TMP/out" $d; done > "$TMP/mine"
check "hand-pinned guest: its PUs 2-5 not taken" sh -c "test -s '$TMP/mine' && ! grep -qxE '[2-5]' '$TMP/mine'"

# What apply writes, check with the same profile finds nothing: the demo
# host's domains as the plans apply writes them, audited through libvirt.
printf '[profile]\nhost_cpus=0\n' > "$TMP/host0.conf"
for prof in balanced latency throughput density "$TMP/host0.conf"; do
  rm -rf "$TMP/demo"; mkdir -p "$TMP/demo"
  awk '/<domain /{f=1; n++} f{print > (dir "/" n ".xml")} /<\/domain>/{f=0}' dir="$TMP/demo" \
    "$VDP_SRCDIR/examples/demo-host.xml"
  sed -i '/test:runstate/d' "$TMP"/demo/*.xml
  run_cmd plan -q --topology "$DTOPO" --profile "$prof" --target libvirt=9.0 --xml \
    --output-dir "$TMP/demo-tuned" "--file" "$TMP"/demo/*.xml
  tuned=$(grep -l 'vdp:dataplane' "$TMP"/demo-tuned/*.xml | wc -l)
  node "$TMP/demo-node.xml" "$TMP"/demo-tuned/*.xml
  run_cmd -c "test://$TMP/demo-node.xml" check --all --profile "$prof" --topology "$DTOPO"
  # (legacy-app's hand pins are its own: with host_cpus=0 its emulator
  # floats over the host's PU, which check rightly reports)
  check "apply then check with $(basename "$prof"): nothing found" \
    sh -c "! grep -v '^test://[^ ]* legacy-app: ' '$TMP/out' | grep -q ."
  run_cmd -c "test://$TMP/demo-node.xml" apply --all --profile "$prof" --topology "$DTOPO" -q
  check "apply again with $(basename "$prof"): the $tuned tuned domains unchanged" \
    test "$(grep -c ': unchanged' "$TMP/out")" = "$tuned"
  rm -rf "$TMP/demo-tuned"
done

printf '# hosts\n%s\n\n' "$URI" > "$TMP/hosts"
run_cmd --hosts "$TMP/hosts" apply --all --dry-run --topology "$TOPO" -q
check "--hosts file" test "$(grep -c 'would-change' "$TMP/out")" = 2
done_testing
