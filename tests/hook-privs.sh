#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Least privilege: the hook runs as root on XML anyone allowed to define
# domains wrote, so a recorded backend is untrusted.  A domain whose
# metadata names /etc/shadow, a symbolic link to it, a path through a
# linked directory, a path outside the allowed directories, something that
# is neither a file nor a block device, or a socket outside the runtime
# directory starts no backend: prepare fails naming the disk, and nothing
# is left.  A block device under an allowed directory is served; a backend
# that cannot serve its file fails the start with its own message.
. "$VDP_SRCDIR/tests/hook-lib.sh"

UUID=5d7c1d2e-8a61-4c9e-b1a4-3f3e2a8b9c01
truncate -s 16M "$TMP/images/p1.raw"
backend_domain p1 $UUID 1 "$(disk vda "$TMP/images/p1.raw")"
cp "$TMP/p1.xml" "$TMP/good.xml"
check "the domain records a backend for vda" grep -q "<vdp:backend target=\"vda\"" "$TMP/good.xml"

# a domain whose recorded source (or socket) is @2, as its author wrote it
forge () {
  sed "s|source=\"$TMP/images/p1.raw\"|source=\"$1\"|" "$TMP/good.xml" > "$TMP/forged.xml"
}
refused () {   # DESCRIPTION PATTERN
  hook p1 prepare begin "$TMP/forged.xml"
  left=$(ours)
  check "$1: prepare fails" sh -c "test '$HRC' != 0 && test '$HRC' != hung"
  check "$1: the message names the disk and why" grep -q "domain 'p1': prepare: disk vda: .*$2" "$TMP/hook.err"
  check "$1: no backend started, nothing left" \
    sh -c "test -z '$left' && test ! -e '$RUN/$UUID/vda.sock' && test -z \"\$(ls -A '$RUN/$UUID' 2>/dev/null)\""
  diag "$(cat "$TMP/hook.err")"
}

forge /etc/shadow
refused "/etc/shadow" "source '/etc/shadow': not under the allowed directories ($TMP/images"
ln -s /etc/shadow "$TMP/images/shadow-link.raw"
forge "$TMP/images/shadow-link.raw"
refused "a symbolic link to /etc/shadow in the allowed directory" "a path component is a symbolic link"
ln -s /etc "$TMP/images/etc"
forge "$TMP/images/etc/shadow"
refused "a linked directory on the way" "a path component is a symbolic link"
ln -s p1.raw "$TMP/images/alias.raw"
forge "$TMP/images/alias.raw"
refused "even a link to an allowed file" "a path component is a symbolic link"
forge "$TMP/images/../../../etc/shadow"
refused "a path climbing out with .." "not an absolute path without '.', '..' or '//'"
mkdir -p "$TMP/other"; truncate -s 16M "$TMP/other/x.raw"
forge "$TMP/other/x.raw"
refused "a file outside the allowed directories" "not under the allowed directories"
forge "$TMP/images"
refused "the allowed directory itself" "not under the allowed directories"
mkdir "$TMP/images/dir.raw"
forge "$TMP/images/dir.raw"
refused "a directory" "neither a regular file nor a block device"
mkfifo "$TMP/images/fifo.raw"
forge "$TMP/images/fifo.raw"
refused "a FIFO" "neither a regular file nor a block device"
sed "s|socket=\"$RUN/$UUID/vda.sock\"|socket=\"$TMP/evil.sock\"|" "$TMP/good.xml" > "$TMP/forged.xml"
refused "a socket outside the runtime directory" "socket '$TMP/evil.sock' is not '$RUN/$UUID/vda.sock'"
check "nothing created at the forged socket path" test ! -e "$TMP/evil.sock"
sed 's|queues="1"|queues="100000"|' "$TMP/good.xml" > "$TMP/forged.xml"
hook p1 prepare begin "$TMP/forged.xml"
check "queues out of range: prepare fails, named" \
  sh -c "test '$HRC' != 0 && grep -q \"backend record of disk 'vda': bad queues '100000'\" '$TMP/hook.err'"
check "shadow untouched by any of it" sh -c "! ls -l /proc/*/fd 2>/dev/null | grep -q ' /etc/shadow\$'"

# a reconnect with a forged record never fails (libvirtd would kill the guest)
forge /etc/shadow
hook p1 reconnect begin "$TMP/forged.xml"
check "reconnect with a forged record: exit 0, reason on stderr, no backend" \
  sh -c "test '$HRC' = 0 && grep -q 'not under the allowed directories' '$TMP/hook.err' && test -z '$(ours)'"

# the backend's own refusal: a file whose size is not a multiple of 512
truncate -s 1000 "$TMP/images/odd.raw"
forge "$TMP/images/odd.raw"
hook p1 prepare begin "$TMP/forged.xml"
left=$(ours)
check "a file the backend cannot serve: prepare fails with the backend's message" \
  sh -c "test '$HRC' != 0 && grep -q \"disk vda: the backend of '$TMP/images/odd.raw' (its fd 4) exited before it was ready: .*size 1000 is not a multiple of 512\" '$TMP/hook.err'"
check "a file the backend cannot serve: nothing left" \
  sh -c "test -z '$left' && test -z \"\$(ls -A '$RUN/$UUID' 2>/dev/null)\""
diag "$(cat "$TMP/hook.err")"

# who the backend runs as: the domain's DAC label wins over qemu.conf
printf 'user = "nobody"\ngroup = "nogroup"\n' > "$TMP/qemu.conf"
hook p1 prepare begin "$TMP/good.xml"
B=$(sed -n 's/^backend //p' "$RUN/$UUID/vda.state")
check "qemu.conf's user: the backend runs as nobody:nogroup" \
  sh -c "test '$HRC' = 0 && awk '/^Uid:/ {exit \$2 != $(id -u nobody)} /^Gid:/ {exit \$2 != $(getent group nogroup | cut -d: -f3)}' /proc/$B/status"
check "qemu.conf's user: the socket is theirs" test "$(stat -c %U:%G "$RUN/$UUID/vda.sock")" = nobody:nogroup
hook p1 release end "$TMP/good.xml"
sed "s|</devices>|</devices><seclabel type='dynamic' model='dac' relabel='yes'><label>+$(id -u libvirt-qemu):+$(id -g libvirt-qemu)</label></seclabel>|" \
  "$TMP/good.xml" > "$TMP/label.xml"
hook p1 prepare begin "$TMP/label.xml"
B=$(sed -n 's/^backend //p' "$RUN/$UUID/vda.state")
check "the DAC label libvirt gives QEMU: the backend runs as libvirt-qemu" \
  sh -c "test '$HRC' = 0 && awk '/^Uid:/ {exit \$2 != $(id -u libvirt-qemu)}' /proc/$B/status"
hook p1 release end "$TMP/label.xml"
sed "s|</devices>|</devices><seclabel type='static' model='dac'><label>+0:+0</label></seclabel>|" \
  "$TMP/good.xml" > "$TMP/root.xml"
hook p1 prepare begin "$TMP/root.xml"
check "a label that would make the backend root is refused" \
  sh -c "test '$HRC' != 0 && grep -q 'makes backends root' '$TMP/hook.err' && test -z '$(ours)'"
rm -f "$TMP/qemu.conf"

# limits: threads as planned (at most max_workers), no core dumps, private memory bounded
sed -i 's/^stop_timeout_ms.*/&\nmax_workers = 1\nmemory_limit_mib = 512/' "$CONF"
sed 's|queues="1"|queues="4"|; s|<vdp:worker cpus="\([^"]*\)"/>|&<vdp:worker cpus="\1"/><vdp:worker cpus="\1"/>|' \
  "$TMP/good.xml" > "$TMP/three.xml"
hook p1 prepare begin "$TMP/three.xml"
B=$(sed -n 's/^backend //p' "$RUN/$UUID/vda.state")
check "three recorded workers, max_workers 1: one worker thread" \
  sh -c "test '$HRC' = 0 && test \$(grep -l '^vdp-blk-w' /proc/$B/task/*/comm | wc -l) = 1"
check "no core dumps of guest memory" grep -q '^Max core file size *0 ' "/proc/$B/limits"
if grep -q 'asan\|ubsan' "/proc/$B/maps" 2>/dev/null; then
  diag "sanitizer build: no data limit (AddressSanitizer reserves terabytes)"
else
  check "private memory bounded (RLIMIT_DATA 512 MiB)" \
    grep -q "^Max data size *536870912 " "/proc/$B/limits"
fi
hook p1 release end "$TMP/three.xml"

# a block device under an allowed directory is served
if LOOP=$(losetup -f --show "$TMP/images/p1.raw" 2>/dev/null); then
  sed -i "s|^allowed_paths.*|allowed_paths = $TMP/images; /dev|" "$CONF"
  sed "s|source=\"$TMP/images/p1.raw\"|source=\"$LOOP\"|; s|type=\"file\" source|type=\"block\" source|" \
    "$TMP/good.xml" > "$TMP/block.xml"
  hook p1 prepare begin "$TMP/block.xml"
  as_qemu "$CLIENT" --socket "$RUN/$UUID/vda.sock" functional > "$TMP/fn.out" 2>&1
  check "a block device ($LOOP) is served" \
    sh -c "test '$HRC' = 0 && grep -q 'match=1' '$TMP/fn.out'"
  hook p1 release end "$TMP/block.xml"
  losetup -d "$LOOP"
else
  not_ok "a block device is served: losetup cannot attach a loop device here"
fi
check "nothing left at the end" sh -c "test -z '$(ours)' && test -z \"\$(ls -A '$RUN')\""
done_testing
