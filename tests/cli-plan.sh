#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# CLI tests of "virt-dataplane plan": outputs, local-host disk checks (a file
# on tmpfs, a missing source), atomic --output-dir, usage and input errors.
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
check "missing source: still tuned (assumed O_DIRECT)" test "$(jq -r '.domains[0].disks[1].cache' "$TMP/out")" = none
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
    "--topology $TOPO/2amd64-kvm-guest.xml --profile latency --file $EX/db1.xml|16 dedicated vCPUs do not fit" \
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
    "--xml --file $EX/web1.xml --file $EX/db1.xml" "--file $EX/web1.xml --target libvirt=x" \
    "--file $EX/web1.xml --device nopath"; do
  # shellcheck disable=SC2086
  run_cmd plan $args
  check "usage error '$args': exit 64" test "$RC" = 64
  check "usage error '$args': one line" test "$(wc -l < "$TMP/err")" = 1
done

# A 1-node host through a synthetic description, and files given as operands.
run_cmd plan --topology "node:1 core:8 pu:2" --json --file "$EX/web1.xml" "$EX/netcd1.xml"
check "operands after --file are files" test "$(jq '.domains | length' "$TMP/out")" = 2
done_testing
