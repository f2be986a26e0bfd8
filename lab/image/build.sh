#!/usr/bin/env bash
# Builds the lab's shared Debian 12 base image: debootstrap minbase + packages.txt, the UML
# kernel's modules, a Salt venv (/opt/salt) and the files under rootfs/. Writes OUTDIR/base.img
# (ext4, made with mkfs.ext4 -d: no loop device) and OUTDIR/build.log.
#
# usage: build.sh OUTDIR CONSTRAINTS_FILE HOST_PIP UML_MODULE_DIR
# HOST_PIP (the checkout's .venv/bin/pip) downloads the guests' Python wheels with the host's own
# pip configuration (index, find-links, certificates); the chroot installs them offline.
# UML_MODULE_DIR is the lab kernel's module tree (lab/kernel.py), named after its release.
# The lab command calls it with OUTDIR=/var/cache/brine-lab/<hash of this recipe>; the image is
# built in OUTDIR.tmp-PID and renamed into place only when complete.
set -euo pipefail
out=$1 constraints=$2 host_pip=$3 module_dir=$4
here=$(cd "$(dirname "$0")" && pwd)
work="$out.tmp-$$"
rootfs="$work/rootfs"
cleanup() {
  # A failed build must not leave the chroot's virtual file systems mounted.
  for m in var/cache/apt/archives proc sys dev/pts dev; do mountpoint -q "$rootfs/$m" 2>/dev/null && umount -l "$rootfs/$m"; done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The package mirror comes from the host's apt configuration (never hard-coded here).
mirror() {
  local f uri suites
  for f in /etc/apt/sources.list.d/*.sources; do
    [[ -e $f ]] || continue
    uri=$(awk '/^URIs:/ {print $2; exit}' "$f"); suites=$(awk '/^Suites:/ {$1=""; print; exit}' "$f")
    [[ -n $uri && " $suites " == *" bookworm "* ]] && { echo "$uri"; return; }
  done
  [[ -e /etc/apt/sources.list ]] &&
    awk '$1 == "deb" && $3 == "bookworm" {print $2; exit}' /etc/apt/sources.list | grep . && return
  echo "build.sh: no bookworm mirror in /etc/apt/sources.list.d/*.sources or /etc/apt/sources.list" >&2
  return 1
}

[[ -d $module_dir ]] || { echo "build.sh: no UML module tree at $module_dir" >&2; exit 1; }
uml_version=${module_dir##*/}
mapfile -t packages < <(grep -vE '^\s*(#|$)' "$here/packages.txt")
mapfile -t pypackages < <(grep -vE '^\s*(#|$)' "$here/guest-requirements.txt")

# Downloaded .debs are kept next to the images: a recipe change rebuilds without downloading again.
debs="$(dirname "$out")/debs"
mkdir -p "$work" "$debs/partial"
echo "build: debootstrap bookworm from $(mirror)"
debootstrap --variant=minbase --cache-dir="$debs" --include=systemd,systemd-sysv,udev,dbus,iproute2,kmod,python3,ca-certificates \
  bookworm "$rootfs" "$(mirror)"

mount -t proc proc "$rootfs/proc"; mount -t sysfs sys "$rootfs/sys"
mount --bind /dev "$rootfs/dev"; mount --bind /dev/pts "$rootfs/dev/pts"
mount --bind "$debs" "$rootfs/var/cache/apt/archives"
# No package may start its daemon inside the build chroot.
printf '#!/bin/sh\nexit 101\n' > "$rootfs/usr/sbin/policy-rc.d"; chmod +x "$rootfs/usr/sbin/policy-rc.d"
echo "build: apt-get install ${#packages[@]} packages"
chroot "$rootfs" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${packages[@]}"

echo "build: Salt venv /opt/salt"
cp "$constraints" "$rootfs/tmp/constraints.txt"
# Wheels are built on the host (the image has no compiler) for the guests' Python 3.11.
"$host_pip" wheel -q --disable-pip-version-check -w "$rootfs/tmp/wheels" -c "$constraints" "${pypackages[@]}"
in_chroot() { chroot "$rootfs" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 "$@"; }
in_chroot python3 -m venv /opt/salt
in_chroot /opt/salt/bin/pip install -q --no-cache-dir --disable-pip-version-check --no-index \
  --find-links /tmp/wheels -c /tmp/constraints.txt "${pypackages[@]}"
rm -rf "$rootfs/tmp/wheels"
# Byte-compile once here: every .pyc written at run time inside UML costs seconds.
chroot "$rootfs" /opt/salt/bin/python -m compileall -q /opt/salt/lib >/dev/null || true
rm -f "$rootfs/tmp/constraints.txt"

echo "build: UML kernel modules $uml_version"
mkdir -p "$rootfs/usr/lib/modules"
cp -a "$module_dir" "$rootfs/usr/lib/modules/"
chroot "$rootfs" depmod -a "$uml_version"

echo "build: lab files and services"
cp -a "$here/rootfs/." "$rootfs/"
chroot "$rootfs" /bin/sh -ec '
  # Every daemon a role may need is installed but off: the roles decide what runs.
  for unit in openvswitch-switch ovsdb-server ovs-vswitchd isc-dhcp-server isc-dhcp-server6 chrony \
              unbound unbound-resolvconf squid tftpd-hpa lvm2-monitor ifupdown-wait-online networking \
              e2scrub_reap keepalived haproxy mariadb rabbitmq-server memcached apache2 keystone uwsgi; do
    systemctl disable "$unit.service" 2>/dev/null || true
  done
  # Socket activation would start a stand-alone MariaDB on the first client (never a Galera node).
  systemctl disable mariadb.socket mariadb-extra.socket 2>/dev/null || true
  # epmd on every address of every guest; salt/rabbitmq binds it (a drop-in) on the controllers.
  systemctl disable epmd.socket 2>/dev/null || true
  # Periodic housekeeping only costs CPU on a shared 2-core machine.
  for t in apt-daily apt-daily-upgrade e2scrub_all fstrim man-db dpkg-db-backup logrotate systemd-tmpfiles-clean; do
    systemctl mask "$t.timer" 2>/dev/null || true
  done
  # UML consoles are log files or /dev/null: no getty.
  systemctl mask getty@tty1.service serial-getty@ttyS0.service console-getty.service getty-static.service 2>/dev/null || true
  # Boot-time work a UML guest has no use for (measured: each costs seconds on a loaded host).
  systemctl mask systemd-binfmt.service proc-sys-fs-binfmt_misc.automount proc-sys-fs-binfmt_misc.mount \
    sys-fs-fuse-connections.mount sys-kernel-config.mount sys-kernel-debug.mount sys-kernel-tracing.mount \
    modprobe@loop.service modprobe@dm_mod.service modprobe@drm.service modprobe@efi_pstore.service \
    modprobe@configfs.service modprobe@fuse.service systemd-pstore.service systemd-update-utmp.service \
    systemd-update-utmp-runlevel.service systemd-journal-flush.service blk-availability.service \
    dm-event.socket lvm2-lvmpolld.socket systemd-random-seed.service 2>/dev/null || true
  systemctl set-default multi-user.target
  systemctl enable brine-lab-init.service salt-minion.service brine-lab-exec.socket
  # No password login for root (the lab reaches guests over its authenticated command channel).
  passwd -l root >/dev/null
'
rm -f "$rootfs/usr/sbin/policy-rc.d" "$rootfs/etc/hostname"
# The kernel mounts the root read-write (root=/dev/ubda rw): no fstab entry, so systemd neither
# waits for the device unit nor runs fsck on a root that is already mounted.
: > "$rootfs/etc/fstab"
for m in var/cache/apt/archives dev/pts dev sys proc; do umount "$rootfs/$m"; done

echo "build: ext4 image"
size_mb=$(( $(du -sm "$rootfs" | cut -f1) * 2 + 1024 ))
truncate -s "${size_mb}M" "$work/base.img"
mkfs.ext4 -q -F -L brine-lab-root -d "$rootfs" "$work/base.img"
rm -rf "$rootfs"
mv "$work" "$out"
trap - EXIT
echo "build: done: $out/base.img (${size_mb} MiB apparent, $(du -sm "$out/base.img" | cut -f1) MiB used)"
