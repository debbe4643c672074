#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Builds a tiny test guest: Debian's cloud kernel and its virtio modules,
# busybox and fio, and an init that runs the fio job given on the kernel
# command line (vdp.fio=...) against /dev/vda, prints the result between
# markers and powers off.  Usage: mkinitramfs.sh OUTDIR
# OUTDIR gets vmlinuz and initrd; the kernel package is downloaded with
# apt-get (needs root and Debian's archive) and kept in OUTDIR.
set -eu
OUT=$1
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
[ -s "$OUT/vmlinuz" ] && [ -s "$OUT/initrd" ] && exit 0

command -v busybox >/dev/null || { echo "mkinitramfs: busybox-static is not installed" >&2; exit 1; }
command -v fio >/dev/null || { echo "mkinitramfs: fio is not installed" >&2; exit 1; }
kernel_pkg () {
  apt-cache depends linux-image-cloud-amd64 2>/dev/null | awk '/Depends: linux-image-/ {print $2; exit}'
}
pkg=$(kernel_pkg)
if [ -z "$pkg" ] && [ "$(id -u)" -eq 0 ]; then
  apt-get update -q >/dev/null 2>&1 || true    # a fresh machine has no lists yet
  pkg=$(kernel_pkg)
fi
[ -n "$pkg" ] || { echo "mkinitramfs: no linux-image-cloud-amd64 in apt's lists" >&2; exit 1; }
if ! ls "$OUT"/"$pkg"_*.deb >/dev/null 2>&1; then
  (cd "$OUT" && apt-get download "$pkg" >/dev/null 2>&1) \
    || { echo "mkinitramfs: cannot download $pkg" >&2; exit 1; }
fi
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
dpkg-deb -x "$OUT"/"$pkg"_*.deb "$WORK/pkg"
ROOT=$WORK/root
mkdir -p "$ROOT/bin" "$ROOT/proc" "$ROOT/sys" "$ROOT/dev" "$ROOT/modules" "$ROOT/tmp"
cp "$(command -v busybox)" "$ROOT/bin/busybox"
for app in sh mount insmod poweroff echo cat ls sleep sync wc grep tr; do
  ln -s busybox "$ROOT/bin/$app"
done
for m in virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci virtio_blk; do
  f=$(find "$WORK/pkg/lib/modules" -name "$m.ko*" | head -1)
  [ -n "$f" ] || { echo "mkinitramfs: module $m not in $pkg" >&2; exit 1; }
  case $f in
    *.ko) cp "$f" "$ROOT/modules/$m.ko" ;;
    *.ko.xz) xz -dc "$f" > "$ROOT/modules/$m.ko" ;;
    *) echo "mkinitramfs: cannot unpack $f" >&2; exit 1 ;;
  esac
done
# fio and every library it links (Debian's links ceph, gluster, rdma...)
cp "$(command -v fio)" "$ROOT/bin/fio"
ldd "$(command -v fio)" | awk '/=> \// {print $3} /^\t\/lib/ {print $1}' | while read -r lib; do
  mkdir -p "$ROOT$(dirname "$lib")"
  cp -L "$lib" "$ROOT$lib"
done
cat > "$ROOT/init" <<'INIT'
#!/bin/sh
export PATH=/bin
export LD_LIBRARY_PATH=/lib/x86_64-linux-gnu:/usr/lib/x86_64-linux-gnu:/usr/lib/x86_64-linux-gnu/ceph
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci virtio_blk; do
  insmod /modules/$m.ko
done
i=0; while [ ! -b /dev/vda ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
echo "VDP-QUEUES $(ls /sys/block/vda/mq 2>/dev/null | wc -l)"
job=$(tr ' ' '\n' < /proc/cmdline | grep '^vdp.fio=' | sed 's/^vdp.fio=//' | tr ',' ' ')
echo "VDP-FIO-START"
# shellcheck disable=SC2086
fio --filename=/dev/vda --eta=never $job
echo "VDP-FIO-EXIT $?"
sync
poweroff -f
INIT
chmod +x "$ROOT/init"
ln -s busybox "$ROOT/bin/sed"
mknod "$ROOT/dev/console" c 5 1 2>/dev/null || true
cp "$WORK"/pkg/boot/vmlinuz-* "$OUT/vmlinuz"
(cd "$ROOT" && find . | busybox cpio -o -H newc -R 0:0 2>/dev/null) > "$OUT/initrd"
