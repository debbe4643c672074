# SPDX-License-Identifier: LGPL-2.1-or-later
# Shared by the tests (and benches) that need a real libvirtd: re-runs the
# script in a private mount namespace where /run is a tmpfs and /etc, /var
# (and SYSCONFDIR) are overlays on a tmpfs, so that virtlogd and libvirtd
# run as root with their own state and nothing of the machine changes;
# backend.conf points at this build's virt-dataplane-blk, the rest at its
# defaults.  Provides libvirtd_up, install_hook, wait_for, ms, running,
# $NAME (a domain name), $UUID, $V (virsh), $RT (its runtime directory) and
# a cleanup that stops everything.  Set VDP_NEEDS to more programs needed.
# shellcheck shell=sh
if [ -z "${VDP_E2E_NS:-}" ]; then
  [ "$(id -u)" = 0 ] || { echo "1..0 # SKIP libvirtd runs as root here"; exit 0; }
  for p in libvirtd virtlogd virsh qemu-system-x86_64 unshare $VDP_NEEDS; do
    command -v $p >/dev/null || { echo "1..0 # SKIP $p not installed"; exit 0; }
  done
  unshare -m --propagation private true 2>/dev/null \
    || { echo "1..0 # SKIP cannot create a mount namespace"; exit 0; }
  VDP_E2E_NS=1 exec unshare -m --propagation private sh "$0" "$@"
fi
. "$VDP_SRCDIR/tests/lib.sh"
getent passwd libvirt-qemu >/dev/null || { echo "1..0 # SKIP no libvirt-qemu user (./bootstrap creates it)"; exit 0; }
chmod 755 "$TMP"
[ -n "${VDP_E2E_TRACE:-}" ] && { PS4='+ $(date +%T.%N) '; set -x; }

# --- a private /run, /var, /etc (and SYSCONFDIR) -------------------------------
mkdir "$TMP/ovl"
mount -t tmpfs tmpfs "$TMP/ovl"
overlay () {
  mkdir -p "$TMP/ovl/$2/up" "$TMP/ovl/$2/work"
  mount -t overlay overlay -o "lowerdir=$1,upperdir=$TMP/ovl/$2/up,workdir=$TMP/ovl/$2/work" "$1"
}
overlay /etc etc
overlay /var var
etc=$VDP_SYSCONFDIR
while [ ! -d "$etc" ]; do etc=$(dirname "$etc"); done
case $etc in /etc|/etc/*|/var|/var/*) ;; *) overlay "$etc" sysconf ;; esac
mount -t tmpfs tmpfs /run
# QEMU's user may open /dev/kvm, as on a host where libvirt-qemu is in the
# kvm group: otherwise libvirt 9.0 finds its capability cache out of date
# at every call and probes QEMU again (each define took a minute)
if [ -c /dev/kvm ]; then
  mknod "$TMP/ovl/kvm" c $((0x$(stat -c %t /dev/kvm))) $((0x$(stat -c %T /dev/kvm)))
  chgrp libvirt-qemu "$TMP/ovl/kvm"; chmod 660 "$TMP/ovl/kvm"
  mount --bind "$TMP/ovl/kvm" /dev/kvm
fi
mkdir -p /var/log/libvirt/qemu /var/lib/libvirt/qemu /var/lib/libvirt/images /var/cache/libvirt \
  /etc/libvirt/qemu "$VDP_SYSCONFDIR/virt-dataplane"
# libvirtd's log says which hooks it called
printf 'log_filters="1:util.hook"\nlog_outputs="1:file:/var/log/libvirt/libvirtd.log"\n' \
  > /etc/libvirt/libvirtd.conf
# everything else at its default: /run/virt-dataplane, /var/lib/libvirt/images, QEMU's user
printf '[backend]\nbinary = %s\n' "$VDP_BUILDDIR/src/blk/virt-dataplane-blk" \
  > "$VDP_SYSCONFDIR/virt-dataplane/backend.conf"

NAME=${NAME:-vdp-e2e-$$}
UUID=$(cat /proc/sys/kernel/random/uuid)
V="virsh -q -c qemu:///system"
RT=/run/virt-dataplane/$UUID
SERIAL=$TMP/serial.log
cleanup () {
  if [ -n "${VDP_E2E_KEEP:-}" ]; then
    mkdir -p "$VDP_E2E_KEEP"
    cp -r /var/log/libvirt /var/log/virt-dataplane "$SERIAL" "$TMP"/*.xml "$VDP_E2E_KEEP/" 2>/dev/null
  fi
  $V destroy "$NAME" >/dev/null 2>&1
  $V undefine "$NAME" >/dev/null 2>&1
  [ -s "/run/libvirt/qemu/$NAME.pid" ] && kill -9 "$(cat "/run/libvirt/qemu/$NAME.pid")" 2>/dev/null
  for f in /run/libvirtd.pid /run/virtlogd.pid; do [ -s $f ] && kill "$(cat $f)" 2>/dev/null; done
  for p in $(pgrep -f "$RT/") $(pgrep -x vdp-supervise); do
    ls -l "/proc/$p/fd" 2>/dev/null | grep -q "/var/log/virt-dataplane/$NAME" && kill -9 "$p"
    tr '\0' ' ' < "/proc/$p/cmdline" 2>/dev/null | grep -q "$RT/" && kill -9 "$p"
  done
  sleep 0.5
  umount /dev/kvm /run "$etc" /var /etc "$TMP/ovl" 2>/dev/null
  rm -rf "$TMP"
}
trap cleanup EXIT

libvirtd_up () {
  libvirtd -d || return 1
  i=0; while ! $V version >/dev/null 2>&1 && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
  $V version >/dev/null 2>&1
}
running () { [ -r "/proc/$1/stat" ] && ! sed 's/.*) //' "/proc/$1/stat" | grep -q '^[ZX]'; }
ms () { echo $(( $(date +%s%N) / 1000000 )); }
# wait_for SECONDS CMD...: polls until CMD succeeds
wait_for () {
  n=$(( $1 * 10 )); shift; i=0
  while ! "$@" && [ $i -lt $n ]; do sleep 0.1; i=$((i + 1)); done
  "$@"
}
inactive () { [ "$($V domstate "$NAME" 2>/dev/null)" = "shut off" ]; }
backend_pid () { sed -n 's/^backend //p' "$RT/vda.state" 2>/dev/null; }
supervisor_pid () { sed -n 's/^supervisor //p' "$RT/vda.state" 2>/dev/null; }
ours_left () {
  for p in $(pgrep -x vdp-supervise) $(pgrep -f "$RT/"); do
    running "$p" || continue
    { ls -l "/proc/$p/fd" 2>/dev/null | grep -q "/var/log/virt-dataplane/$NAME"; } \
      || tr '\0' ' ' < "/proc/$p/cmdline" 2>/dev/null | grep -q "$RT/" && echo "$p"
  done
  true
}

# install_hook: the qemu hook as installed, with this build's virt-dataplane
install_hook () {
  mkdir -p /etc/libvirt/hooks/qemu.d
  sed "s|@bindir@|$VDP_BUILDDIR/src|" "$VDP_SRCDIR/data/virt-dataplane-hook.in" \
    > /etc/libvirt/hooks/qemu.d/virt-dataplane
  chmod 755 /etc/libvirt/hooks/qemu.d/virt-dataplane
}
