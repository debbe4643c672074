#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# CLI tests of "virt-dataplane check": every rule fires on a domain crafted
# for it, tuned domains are clean, hand edits show as drift, exit codes.
. "$VDP_SRCDIR/tests/lib.sh"
command -v jq >/dev/null || { echo "1..0 # SKIP jq not installed"; exit 0; }
DATA="$VDP_SRCDIR/tests/data/check"
EX="$VDP_SRCDIR/examples/domains"
# two nodes: PUs 0-7 on node 0 (nvme0n1), 8-15 on node 1 (pmem1)
TOPO="$VDP_SRCDIR/examples/topologies/32em64t-2n8c+1mic.xml"
BIG="$VDP_SRCDIR/examples/topologies/96em64t-4n4d3ca2co.xml"

expect_rule () {
  id=$1; shift
  run_cmd check --topology "$TOPO" --device /dev/sdb=pmem1 "$@"
  check "$id: exit 1" test "$RC" = 1
  check "$id: reported" grep -q " $id " "$TMP/out"
}

for f in "$DATA"/vdp0*.xml; do
  id=$(basename "$f" .xml | tr a-z A-Z | sed 's/[AB]$//')
  case $id in
    VDP012) continue ;;
    VDP011) run_cmd check --topology "$TOPO" --target newest --file "$f"
            check "VDP011: info only, exit 0" test "$RC" = 0
            check "VDP011: reported" grep -q " VDP011 " "$TMP/out"
            continue ;;
    VDP014) expect_rule "$id" --target libvirt=9.0,qemu=7.2 --file "$f"; continue ;;
    VDP016) expect_rule "$id" --isolated 4-7 --file "$f"; continue ;;
  esac
  expect_rule "$id" --file "$f"
done
# two domains of one host on one dedicated PU; alone, each is fine
expect_rule VDP012 --file "$DATA/vdp012a.xml" --file "$DATA/vdp012b.xml"
run_cmd check --topology "$TOPO" --file "$DATA/vdp012a.xml"
check "VDP012: not for one domain alone" sh -c "! grep -q VDP012 '$TMP/out'"
# an IOThread without a pin runs on every host PU, another domain's 1:1
# PU included (what virt-dataplane wrote for hand-pinned guests once)
cat > "$TMP/unpinned-io.xml" <<'EOF'
<domain type='kvm'>
  <name>unpinned-io</name>
  <memory unit='GiB'>1</memory>
  <vcpu>2</vcpu>
  <iothreads>1</iothreads>
  <cputune><vcpupin vcpu='0' cpuset='4'/><vcpupin vcpu='1' cpuset='5'/><emulatorpin cpuset='6'/></cputune>
  <os><type arch='x86_64'>hvm</type></os>
  <devices>
    <disk type='file' device='disk'><driver name='qemu' type='raw' iothread='1'/>
      <source file='/nonexistent/u.raw'/><target dev='vda' bus='virtio'/></disk>
  </devices>
</domain>
EOF
run_cmd check --topology "$TOPO" --file "$TMP/unpinned-io.xml" --file "$DATA/vdp012a.xml"
check "VDP012: an unpinned IOThread beside 1:1 pins: exit 1" test "$RC" = 1
check "VDP012: an unpinned IOThread beside 1:1 pins: reported" \
  grep -q "VDP012.*iothread 1.*IOThread 1 has no pin.*1:1 PUs 3" "$TMP/out"
run_cmd check --topology "$TOPO" --file "$TMP/unpinned-io.xml"
check "VDP012: an unpinned IOThread alone on the host: not reported" \
  sh -c "! grep -q VDP012 '$TMP/out'"
# the same mapping is fine where the stack keeps it
run_cmd check --topology "$TOPO" --target newest --file "$DATA/vdp014.xml"
check "VDP014: not on a stack with mapping" sh -c "! grep -q VDP014 '$TMP/out'"

# What plan writes audits clean, with the same profile and stack, on
# several hosts, with every profile, one that keeps PU 0 for the host
# (host_cpus=0) and isolated PUs.
printf '[profile]\nhost_cpus=0\n' > "$TMP/host0.conf"
printf '[profile]\nbase=latency\nsmt=prefer\nhost_cpus=0\n' > "$TMP/lat0.conf"
for topo in 96em64t-4n4d3ca2co.xml 32em64t-2n8c2t-pci-wholeio.xml 24em64t-2n6c2t-pci.xml; do
  T="$VDP_SRCDIR/examples/topologies/$topo"
  for prof in balanced latency throughput density "$TMP/host0.conf" "$TMP/lat0.conf"; do
    for extra in "" "--target libvirt=9.0,qemu=7.2" "--isolated 1-3"; do
      rm -rf "$TMP/tuned"
      # shellcheck disable=SC2086
      run_cmd plan -q --topology "$T" --profile $prof $extra --xml --output-dir "$TMP/tuned" \
        --file "$EX/web1.xml" --file "$EX/netcd1.xml" --file "$EX/scsi1.xml"
      # shellcheck disable=SC2086
      run_cmd check --topology "$T" --profile $prof $extra --file "$TMP"/tuned/*.xml
      check "tuned on $topo with $(basename "$prof") ${extra:-newest}: check finds nothing" \
        sh -c "test $RC = 0 && test ! -s '$TMP/out'"
    done
  done
done
# a hand-pinned guest among them: the others are clean; its own pins on
# the PU the profile keeps for the host are its own finding
rm -rf "$TMP/tuned"
T="$VDP_SRCDIR/examples/topologies/32em64t-2n8c2t-pci-wholeio.xml"
run_cmd plan -q --topology "$T" --profile "$TMP/host0.conf" --xml --output-dir "$TMP/tuned" \
  --file "$EX/web1.xml" --file "$EX/netcd1.xml" --file "$EX/pinned1.xml"
run_cmd check --topology "$T" --profile "$TMP/host0.conf" --file "$TMP"/tuned/*.xml
check "hand-pinned guest: only its own pins reported" sh -c "test $RC = 1 && ! grep -qv '^pinned1: ' '$TMP/out' && grep -q ' VDP018 ' '$TMP/out'"
# without --profile, each tuned domain is audited against its own
rm -rf "$TMP/tuned"
run_cmd plan -q --topology "$BIG" --profile latency --xml --output-dir "$TMP/tuned" \
  --file "$EX/web1.xml" --file "$EX/netcd1.xml"
run_cmd check --topology "$BIG" --file "$TMP"/tuned/*.xml
check "recorded profile: check finds nothing" sh -c "test $RC = 0 && test ! -s '$TMP/out'"
run_cmd check --topology "$BIG" --profile balanced --file "$TMP"/tuned/*.xml
check "another profile given: drift" grep -q " VDP013 " "$TMP/out"

# A hand edit of a tuned domain is drift.
run_cmd plan -q --topology "$TOPO" --xml --file "$EX/web1.xml"
sed 's|<vcpupin vcpu="0" cpuset="[^"]*"/>|<vcpupin vcpu="0" cpuset="9"/>|' "$TMP/out" > "$TMP/edited.xml"
run_cmd check --topology "$TOPO" --file "$TMP/edited.xml"
check "drift: VDP013" sh -c "test $RC = 1 && grep -q ' VDP013 .*vcpupin of vCPU 0' '$TMP/out'"
run_cmd check --topology "$TOPO" --profile latency --file "$TMP/edited.xml"
check "drift against another profile: VDP013" grep -q " VDP013 " "$TMP/out"

# JSON and the rule list.
run_cmd check --topology "$TOPO" --json --file "$DATA/vdp002.xml"
check "--json: findings with ids and fixes, one object per line" jq -e -s '.[0].id == "VDP002" and (.[0].fix | length) > 0' "$TMP/out"
run_cmd check --list-rules
check "--list-rules: 24 rules, 5 of them for virt-dataplane-blk disks" test "$(wc -l < "$TMP/out")" = 24
check "--list-rules: each rule in the man page" \
  sh -c "for id in \$(cut -d' ' -f1 '$TMP/out'); do grep -q \"^=item \$id \" '$VDP_SRCDIR/man/virt-dataplane.pod' || exit 1; done"

# Errors and usage.
run_cmd check --file "$TMP/nonexistent.xml"
check "missing file: exit 2" test "$RC" = 2
run_cmd check
check "nothing to check: exit 64 with a message" sh -c "test $RC = 64 && test -s '$TMP/err' && test ! -s '$TMP/out'"
run_cmd -c test:///nonexistent.xml check --all
check "unreachable host: exit 2" test "$RC" = 2
done_testing
