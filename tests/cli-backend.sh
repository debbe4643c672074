#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# plan and apply --backend=vhost-user: the explanation (what stays with QEMU
# and why, what a converted disk gives up), XML valid for this host's libvirt
# and the newest, JSON, a refusal on a stack without vhost-user disks,
# idempotency; then through libvirt's real QEMU driver (qemu:///embed, no
# daemon): defined with QEMU 7.2's validation, read back and verified, the
# QEMU command line libvirt would run, apply again unchanged, revert exact.
. "$VDP_SRCDIR/tests/lib.sh"
command -v xmllint >/dev/null || { echo "1..0 # SKIP xmllint not installed (libxml2-utils)"; exit 0; }
command -v jq >/dev/null || { echo "1..0 # SKIP jq not installed"; exit 0; }
HOST_RNG=/usr/share/libvirt/schemas/domain.rng
NEW_RNG="$VDP_SRCDIR/tests/data/libvirt-schemas/domain.rng"
TOPO="$VDP_SRCDIR/examples/topologies/24em64t-2n6c2t-pci.xml"
UUID=0c6f1b2a-3d4e-4f50-8a9b-1c2d3e4f5a6b

cat > "$TMP/b1.xml" <<XML
<domain type='kvm'>
  <name>b1</name>
  <uuid>$UUID</uuid>
  <memory unit='GiB'>4</memory>
  <vcpu placement='static'>4</vcpu>
  <os><type arch='x86_64' machine='q35'>hvm</type></os>
  <devices>
    <disk type='file' device='disk'>
      <driver name='qemu' type='raw' cache='none' io='native'/>
      <source file='/var/lib/libvirt/images/b1.raw'/>
      <target dev='vda' bus='virtio'/>
      <serial>B1-DATA</serial>
      <boot order='1'/>
    </disk>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='/var/lib/libvirt/images/b1.qcow2'/>
      <target dev='vdb' bus='virtio'/>
    </disk>
    <disk type='file' device='cdrom'>
      <source file='/var/lib/libvirt/images/x.iso'/>
      <target dev='sda' bus='sata'/>
      <readonly/>
    </disk>
  </devices>
</domain>
XML
P="plan --topology $TOPO --target libvirt=9.0,qemu=7.2"

# shellcheck disable=SC2086
run_cmd $P --backend vhost-user --file "$TMP/b1.xml"
check "plan --backend: exit 0" test "$RC" = 0
check "plan: vda served by virt-dataplane-blk, with its socket" \
  sh -c "grep -q 'disk vda        virt-dataplane-blk: 4 queues, 2 workers on PUs' '$TMP/out' && grep -q '/run/virt-dataplane/$UUID/vda.sock' '$TMP/out'"
check "plan: the qcow2 disk stays with QEMU, and says why" \
  grep -q "disk vdb        stays with QEMU: a qcow2 image, not raw" "$TMP/out"
check "plan: the CD-ROM stays with QEMU, and says why" \
  grep -q "disk sda        stays with QEMU: on bus 'sata', not virtio" "$TMP/out"
check "plan: what a converted disk gives up" \
  sh -c "grep -q 'gives up:' '$TMP/out' && grep -q 'block jobs' '$TMP/out' && grep -q 'domblkstat' '$TMP/out'"
check "plan: shared memory added" grep -q "shared memfd backing added" "$TMP/out"
check "plan: no driver change for the converted disk" \
  grep -q "\[rule 9\] disk vda: served by virt-dataplane-blk" "$TMP/out"

# shellcheck disable=SC2086
run_cmd $P --backend vhost-user --xml --file "$TMP/b1.xml"
cp "$TMP/out" "$TMP/tuned.xml"
check "XML: valid for this host's libvirt" xmllint --noout --relaxng "$HOST_RNG" "$TMP/tuned.xml"
check "XML: valid for the newest libvirt" xmllint --noout --relaxng "$NEW_RNG" "$TMP/tuned.xml"
check "XML: the vhost-user disk" \
  grep -q "<source type=\"unix\" path=\"/run/virt-dataplane/$UUID/vda.sock\">" "$TMP/tuned.xml"
check "XML: the serial moved to the backend" \
  sh -c "! grep -q '<serial>' '$TMP/tuned.xml' && grep -q 'serial=\"B1-DATA\"' '$TMP/tuned.xml'"
check "XML: the boot order kept" grep -q '<boot order="1"/>' "$TMP/tuned.xml"
# shellcheck disable=SC2086
run_cmd $P --backend vhost-user --xml --file "$TMP/tuned.xml"
check "plan again: nothing changes" cmp -s "$TMP/out" "$TMP/tuned.xml"
# shellcheck disable=SC2086
run_cmd $P --xml --file "$TMP/tuned.xml"
check "plan again without --backend: nothing changes (converted disks stay)" \
  cmp -s "$TMP/out" "$TMP/tuned.xml"
# shellcheck disable=SC2086
run_cmd $P --backend vhost-user --json --file "$TMP/b1.xml"
check "JSON: backend settings and the disks not served" \
  jq -e --arg s "/run/virt-dataplane/$UUID/vda.sock" \
  '.domains[0].backend[0].socket == $s and .domains[0].backend[0].queues == 4
   and (.domains[0].backend[0].workers | length) == 2
   and ([.domains[0].not_served[].target] == ["vdb", "sda"])' "$TMP/out"

run_cmd plan --topology "$TOPO" --target libvirt=7.0,qemu=7.2 --backend vhost-user --file "$TMP/b1.xml"
check "libvirt 7.0: refused, exit 2, one line naming the domain and the stack, no plan for it" \
  sh -c "test $RC = 2 && ! grep -q '^Domain b1' '$TMP/out' && grep -q \"domain 'b1': --backend=vhost-user: vhost-user disks need libvirt >= 7.1.0 (the target is libvirt 7.0.0\" '$TMP/err'"
# a domain that cannot be converted is refused alone; the others are planned
sed -e 's|<name>b1</name>|<name>b2</name>|' -e '/<uuid>/d' "$TMP/b1.xml" > "$TMP/b2.xml"
# shellcheck disable=SC2086
run_cmd $P --backend vhost-user --file "$TMP/b1.xml" --file "$TMP/b2.xml"
check "no UUID: that domain refused (exit 2), the other one planned" \
  sh -c "test $RC = 2 && grep -q \"domain 'b2': --backend=vhost-user: no UUID\" '$TMP/err' && grep -q '^Domain b1:' '$TMP/out' && ! grep -q '^Domain b2' '$TMP/out'"
run_cmd plan --topology "$TOPO" --backend nvme --file "$TMP/b1.xml"
check "--backend nvme: usage error" \
  sh -c "test $RC = 64 && grep -q \"invalid --backend 'nvme' (qemu or vhost-user)\" '$TMP/err'"
cat > "$TMP/p.conf" <<CONF
[profile]
backend = vhost-user
backend_poll_ns = 0
CONF
run_cmd plan --topology "$TOPO" --target libvirt=9.0,qemu=7.2 --profile "$TMP/p.conf" --xml --file "$TMP/b1.xml"
check "profile key backend=vhost-user converts, backend_poll_ns recorded" \
  sh -c "grep -q 'type=\"vhostuser\"' '$TMP/out' && grep -q 'poll-ns=\"0\"' '$TMP/out'"

# --- through libvirt's QEMU driver ----------------------------------------------
if [ "$(id -u)" != 0 ] || ! command -v qemu-system-x86_64 >/dev/null || ! command -v virsh >/dev/null \
   || ! getent passwd libvirt-qemu >/dev/null; then
  not_ok "qemu:///embed needs root, QEMU, virsh and the libvirt-qemu user"
  done_testing
  exit 1
fi
ROOT=$(mktemp -d /tmp/vdpb-XXXXXX)
URI="qemu:///embed?root=$ROOT"
trap 'rm -rf "$ROOT" "$TMP"' EXIT
mkdir -p "$ROOT/etc"
printf 'user = "root"\ngroup = "root"\nsecurity_driver = "none"\nstdio_handler = "file"\n' > "$ROOT/etc/qemu.conf"
sed "s|<domain type='kvm'>|<domain type='qemu'>|; s|</devices>|<emulator>$(command -v qemu-system-x86_64)</emulator><memballoon model='none'/></devices>|" \
  "$TMP/b1.xml" > "$TMP/e1.xml"
vsh () { virsh -q -c "$URI" "$@" 2>>"$TMP/virsh.err"; }
vsh define "$TMP/e1.xml" >/dev/null
vsh dumpxml --inactive b1 > "$TMP/before.xml"
run_cmd -c "$URI" apply --backend vhost-user --target libvirt=7.0 b1
check "apply --backend for libvirt 7.0: that domain fails, left as it was" \
  sh -c "test $RC = 2 && grep -q 'b1: failed: --backend=vhost-user: vhost-user disks need libvirt >= 7.1.0' '$TMP/out'"
vsh dumpxml --inactive b1 > "$TMP/after-refusal.xml"
check "refused: the definition as it was" cmp -s "$TMP/before.xml" "$TMP/after-refusal.xml"
run_cmd -c "$URI" apply --backend vhost-user b1
check "apply --backend: applied (defined with QEMU 7.2's validation, read back, verified)" \
  sh -c "test $RC = 0 && grep -q 'b1: applied' '$TMP/out'"
vsh dumpxml --inactive b1 > "$TMP/applied.xml"
check "libvirt kept the vhost-user disk and its reconnect" \
  grep -q "<source type='unix' path='/run/virt-dataplane/$UUID/vda.sock'>" "$TMP/applied.xml"
check "libvirt kept the shared memfd memory" \
  sh -c "grep -q \"<source type='memfd'/>\" '$TMP/applied.xml' && grep -q \"<access mode='shared'/>\" '$TMP/applied.xml'"
vsh domxml-to-native qemu-argv --domain b1 > "$TMP/argv"
check "QEMU would run vhost-user-blk-pci with 4 queues on the socket, reconnecting" \
  sh -c "grep -q 'vhost-user-blk-pci' '$TMP/argv' && grep -q '\"num-queues\":4' '$TMP/argv' && grep -q 'path=/run/virt-dataplane/$UUID/vda.sock,reconnect=1' '$TMP/argv'"
check "QEMU would keep the boot order on it" grep -q 'vhost-user-blk-pci.*"bootindex":1' "$TMP/argv"
run_cmd -c "$URI" apply --backend vhost-user b1
check "apply again: unchanged" grep -q "b1: unchanged" "$TMP/out"
run_cmd -c "$URI" apply b1
check "apply without --backend: unchanged (the disk stays converted)" grep -q "b1: unchanged" "$TMP/out"
run_cmd -c "$URI" check b1; diag "$(cat "$TMP/out")"
check "check: clean (no hooks run in qemu:///embed: no host rules)" test "$RC" = 0
run_cmd -c "$URI" revert b1
check "revert: reverted" grep -q "b1: reverted" "$TMP/out"
vsh dumpxml --inactive b1 > "$TMP/reverted.xml"
check "revert: exactly the original definition" cmp -s "$TMP/before.xml" "$TMP/reverted.xml"
done_testing
