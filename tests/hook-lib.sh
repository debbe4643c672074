# SPDX-License-Identifier: LGPL-2.1-or-later
# Shared by the hook tests: runs the test in a private mount namespace where
# backend.conf (SYSCONFDIR/virt-dataplane/backend.conf, on an overlay) points
# at this test's directories, and calls the hook script as libvirt does.
# Nothing outside the test's directory changes.
# shellcheck shell=sh
if [ -z "${VDP_HOOK_NS:-}" ]; then
  [ "$(id -u)" = 0 ] || { echo "1..0 # SKIP the hook runs as root (libvirtd's user)"; exit 0; }
  command -v unshare >/dev/null || { echo "1..0 # SKIP unshare not installed (util-linux)"; exit 0; }
  unshare -m --propagation private true 2>/dev/null \
    || { echo "1..0 # SKIP cannot create a mount namespace"; exit 0; }
  VDP_HOOK_NS=1 exec unshare -m --propagation private sh "$0" "$@"
fi
. "$VDP_SRCDIR/tests/lib.sh"
getent passwd libvirt-qemu >/dev/null || { echo "1..0 # SKIP no libvirt-qemu user (./bootstrap creates it)"; exit 0; }
command -v setpriv >/dev/null || { echo "1..0 # SKIP setpriv not installed (util-linux)"; exit 0; }

BLK="$VDP_BUILDDIR/src/blk/virt-dataplane-blk"
CLIENT="$VDP_BUILDDIR/tests/vdp-blk-client"
RUN="$TMP/run"
mkdir -p "$TMP/images" "$TMP/hooks" "$TMP/ovl" "$RUN"
chmod 755 "$TMP"    # QEMU's user reaches the sockets under it, as under /run

# SYSCONFDIR may not exist: overlay its nearest existing ancestor
etc=$VDP_SYSCONFDIR
while [ ! -d "$etc" ]; do etc=$(dirname "$etc"); done
mount -t tmpfs tmpfs "$TMP/ovl"
mkdir "$TMP/ovl/up" "$TMP/ovl/work"
mount -t overlay overlay -o "lowerdir=$etc,upperdir=$TMP/ovl/up,workdir=$TMP/ovl/work" "$etc"
mkdir -p "$VDP_SYSCONFDIR/virt-dataplane"
CONF="$VDP_SYSCONFDIR/virt-dataplane/backend.conf"
cat > "$CONF" <<CONF
[backend]
runtime_dir = $RUN
log_dir = $TMP/log
allowed_paths = $TMP/images
binary = $BLK
qemu_conf = $TMP/qemu.conf
supervisor = builtin
stop_timeout_ms = 3000
CONF

# the hook script as installed, with this build's virt-dataplane
HOOK="$TMP/hooks/virt-dataplane"
sed "s|@bindir@|$VDP_BUILDDIR/src|" "$VDP_SRCDIR/data/virt-dataplane-hook.in" > "$HOOK"
chmod +x "$HOOK"

# hook DOMAIN OP SUBOP XML: runs the hook as libvirt does (virCommandRun):
# the domain XML on stdin, stdout and stderr pipes read to their end.
# Leaves $TMP/hook.out, $TMP/hook.err, $HRC (exit status, or "hung" when
# the pipes were not closed within 60 s) and $HMS (milliseconds until both
# pipes were closed).
hook () {
  rm -f "$TMP/hook.rc"
  t0=$(date +%s%N)
  timeout 60 sh -c '( ( "$1" "$2" "$3" "$4" - < "$5" 2>&4; echo $? > "$6.rc" ) | cat > "$6.out" ) 4>&1 | cat > "$6.err"' \
    sh "$HOOK" "$1" "$2" "$3" "$4" "$TMP/hook" || true
  t1=$(date +%s%N)
  HMS=$(( (t1 - t0) / 1000000 ))
  HRC=$(cat "$TMP/hook.rc" 2>/dev/null || echo hung)
}

# backend_domain NAME UUID VCPUS DISK-XML...: a domain with these disks,
# tuned as apply --backend=vhost-user tunes it on this host for Debian 12's
# stack, in $TMP/NAME.xml
backend_domain () {
  n=$1 u=$2 v=$3; shift 3
  printf "<domain type='qemu'><name>%s</name><uuid>%s</uuid><memory unit='MiB'>256</memory>
  <vcpu placement='static'>%s</vcpu><os><type arch='x86_64' machine='q35'>hvm</type></os>
  <devices>%s</devices></domain>\n" "$n" "$u" "$v" "$*" > "$TMP/$n-base.xml"
  "$VDP_BIN" plan --target libvirt=9.0,qemu=7.2 --backend vhost-user --xml \
    --file "$TMP/$n-base.xml" > "$TMP/$n.xml"
}
# disk TARGET FILE [MORE-XML]: a raw virtio disk
disk () {
  printf "<disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='%s'/><target dev='%s' bus='virtio'/>%s</disk>" \
    "$2" "$1" "${3:-}"
}

# running PID: alive and not a zombie (PID 1 here may not reap orphans)
running () { [ -r "/proc/$1/stat" ] && ! sed 's/.*) //' "/proc/$1/stat" | grep -q '^[ZX]'; }
# our processes still running: supervisors and backends of this test
ours () {
  for p in $(pgrep -f "$RUN/" 2>/dev/null); do running "$p" && echo "$p"; done
  for p in $(pgrep -x vdp-supervise 2>/dev/null); do
    running "$p" && ls -l "/proc/$p/fd" 2>/dev/null | grep -q "$TMP/log/" && echo "$p"
  done
  true
}
# as_qemu CMD...: runs a command as the user QEMU runs as
as_qemu () { setpriv --reuid=libvirt-qemu --regid=libvirt-qemu --clear-groups "$@"; }

hook_cleanup () {
  [ -n "${KEEP:-}" ] && cp -r "$TMP" /tmp/vdpx/keep
  for p in $(ours); do kill -9 "$p" 2>/dev/null; done
  umount "$etc" 2>/dev/null; umount "$TMP/ovl" 2>/dev/null
  rm -rf "$TMP"
}
trap hook_cleanup EXIT
