#!/bin/bash
# Runs once at every boot of a lab guest, before the network and the Salt minion, from
# /run/brine-lab/cfg (unpacked from the guest's read-only config drive, see lab/core.py):
#   host.env   LAB_HOST, LAB_CTL_ADDR (control address/prefix), LAB_MASTER
#   ports.txt  one line per inventory NIC: NAME MAC UPLINK_MAC
#   disks.txt  one line per data disk: UBD_NAME BY_ID_NAME
#   minion.conf, minion.pem, minion.pub   the Salt minion's identity (key accepted on the master)
#   exec.key   the command channel's key (brine-lab-exec)
#
# Wiring: the UML NIC with UPLINK_MAC (a vector NIC on a tap of the lab switch) is the cable. It moves into netns "tor"
# (this host's top-of-rack port) as up-NAME and is bridged (br-NAME) with sw-NAME, the veth peer
# of NAME, the NIC the inventory names, carrying the inventory MAC. Taking sw-NAME down is a
# pulled cable: NAME loses carrier. A network partition is made on the lab switch itself
# (lab/core.py: the port stops forwarding), NAME keeping carrier.
set -euo pipefail
cfg=/run/brine-lab/cfg
. "$cfg/host.env"
log() { echo "brine-lab-init: $*"; }

hostname "$LAB_HOST"
echo "$LAB_HOST" > /etc/hostname
# The first boot's /etc/hosts. Once the baseline manages it (salt/baseline/hosts.sls: every
# inventory host and VIP) a reboot keeps it, as a real server's disk does: a guest powered off
# and on must still resolve the VIP names its services connect to.
grep -q '^# Managed by Salt (Brine' /etc/hosts 2>/dev/null ||
  printf '127.0.0.1 localhost\n127.0.1.1 %s\n%s salt brine-lab-master\n' "$LAB_HOST" "$LAB_MASTER" > /etc/hosts

modprobe -a bonding 8021q bridge veth openvswitch dummy || log "some kernel modules failed to load"

ip link set lo up
ip addr replace "$LAB_CTL_ADDR" dev vec0
ip link set vec0 up

ip netns add tor 2>/dev/null || true
ip -n tor link set lo up
while read -r nic mac uplink_mac; do
  [[ -n $nic ]] || continue
  uplink=""
  for dev in /sys/class/net/*/address; do
    read -r address < "$dev" || continue
    [[ $address == "$uplink_mac" ]] && uplink=${dev%/address} && uplink=${uplink##*/}
  done
  [[ -n $uplink ]] || { log "no UML NIC with MAC $uplink_mac for $nic"; exit 1; }
  ip link set "$uplink" down
  ip link set "$uplink" netns tor
  ip -n tor link set "$uplink" name "up-$nic"
  ip link add "$nic" address "$mac" type veth peer name "sw-$nic" netns tor
  ip -n tor link add "br-$nic" type bridge
  # The switch port forwards at once (no STP learning delay) and passes jumbo frames as far as
  # the UML NIC lets it.
  ip -n tor link set "br-$nic" type bridge stp_state 0 forward_delay 0
  for mtu in 9216 9000 1500; do ip -n tor link set "up-$nic" mtu $mtu 2>/dev/null && break; done
  ip -n tor link set "sw-$nic" mtu 9216
  # The NIC does no TCP segmentation offload: with it the guest's TCP sent frames of up to
  # 64 KiB through the UML NIC (whose own offload cannot be turned off), and a receiving
  # guest's UML NIC stopped reading its tap for good after a bulk transfer (a Galera SST):
  # the host then dropped every frame for it. Segments leave at the MTU instead.
  ethtool -K "$nic" tso off gso off gro off >/dev/null
  ip -n tor link set "up-$nic" master "br-$nic"
  ip -n tor link set "sw-$nic" master "br-$nic"
  for dev in "up-$nic" "sw-$nic" "br-$nic"; do ip -n tor link set "$dev" up; done
  log "port $nic ($mac) wired to the lab switch"
done < "$cfg/ports.txt"

# Stable by-id names for the data disks, made by udev so partitions get -partN names too.
rules=/run/udev/rules.d/61-brine-lab-disks.rules
mkdir -p "${rules%/*}"
: > "$rules"
while read -r ubd name; do
  [[ -n $ubd ]] || continue
  printf 'KERNEL=="%s", SUBSYSTEM=="block", SYMLINK+="disk/by-id/%s"\n' "$ubd" "$name" >> "$rules"
  printf 'KERNEL=="%s[0-9]*", SUBSYSTEM=="block", SYMLINK+="disk/by-id/%s-part%%n"\n' "$ubd" "$name" >> "$rules"
done < "$cfg/disks.txt"
# Normally this runs before udevd starts and its coldplug applies the rules; if udevd already
# runs (an older base image ordered this unit after it), replay the block devices' events.
if pidof -q systemd-udevd; then
  udevadm control --reload || true
  udevadm trigger --subsystem-match=block --action=add || true
  udevadm settle -t 20 || true
fi

mkdir -p /etc/salt/minion.d /etc/salt/pki/minion
[[ -e /etc/salt/minion ]] || : > /etc/salt/minion
install -m 0644 "$cfg/minion.conf" /etc/salt/minion.d/brine-lab.conf
install -m 0400 "$cfg/minion.pem" /etc/salt/pki/minion/minion.pem
install -m 0644 "$cfg/minion.pub" /etc/salt/pki/minion/minion.pub
echo "$LAB_HOST" > /etc/salt/minion_id
log "ready: $LAB_HOST control $LAB_CTL_ADDR master $LAB_MASTER"
