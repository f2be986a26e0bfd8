"""The lab's cables and its walls: tagged and jumbo frames cross the lab switch between guests,
and a guest cannot reach into the host or into another guest."""

import secrets
import time

import pytest

from lab.core import sign_request

PROBE_HOSTS = (("ubuntu1", 1), ("ubuntu2", 2))


def inventory_vlans(lab):
    return sorted({net["vlan"] for net in lab.layout.inventory["networks"].values() if net.get("vlan")})


@pytest.fixture
def probes(lab):
    """In ubuntu1 and ubuntu2, a probe namespace plugged into the switch port of eth2 (the
    guest's ``tor`` bridge, beside whatever Brine built on eth2): one 802.1Q interface per
    inventory VLAN at MTU 9000, address 198.18.VLAN.N/24, plus 198.18.77.N/24 on the first VLAN
    of ubuntu1 and the last of ubuntu2 (to show that tags keep VLANs apart)."""
    vlans = inventory_vlans(lab)
    assert len(vlans) >= 2, vlans
    for name, n in PROBE_HOSTS:
        other = vlans[0] if n == 1 else vlans[-1]
        lab.exec(name, f"""set -e
ip netns add probe
ip -n tor link add pr-eth2 type veth peer name pr netns probe
ip -n tor link set pr-eth2 mtu 9216 master br-eth2 up
ip -n probe link set pr mtu 9216 up
# Answer ARP only on the interface that holds the address (Linux answers on any by default,
# which would join the two VLANs that share 198.18.77.0/24 at the IP level).
ip netns exec probe sysctl -qw net.ipv4.conf.all.arp_ignore=1
for v in {" ".join(map(str, vlans))}; do
  ip -n probe link add link pr name pr.$v type vlan id $v
  ip -n probe link set pr.$v mtu 9000 up
  ip -n probe addr add 198.18.$((v % 256)).{n}/24 dev pr.$v
done
ip -n probe addr add 198.18.77.{n}/24 dev pr.{other}
""").check()
    try:
        yield vlans
    finally:
        for name, _ in PROBE_HOSTS:
            lab.exec(name, "ip netns del probe; ip -n tor link del pr-eth2")


def test_tagged_and_jumbo_frames_of_every_inventory_vlan_cross_between_two_guests(lab, probes):
    for vlan in probes:
        peer = f"198.18.{vlan % 256}.2"
        # 8972 bytes of ICMP payload + 28 of headers = a 9000-byte IP packet, not fragmented.
        jumbo = lab.exec("ubuntu1", f"ip netns exec probe ping -c 2 -W 3 -M do -s 8972 {peer}")
        assert jumbo.ok, (vlan, jumbo.output)
        too_big = lab.exec("ubuntu1", f"ip netns exec probe ping -c 1 -W 1 -M do -s 8973 {peer}")
        assert not too_big.ok and "mtu=9000" in too_big.output, (vlan, too_big.output)
    # The tags are carried, not dropped: the same subnet on two different VLANs does not connect.
    apart = lab.exec("ubuntu1", "ip netns exec probe ping -c 2 -W 1 198.18.77.2")
    assert not apart.ok, apart.output
    # And the frames on the cable carry the tag (seen on ubuntu2's end of it).
    vlan = probes[0]
    lab.exec("ubuntu2", f"rm -f /tmp/vlan-capture; ip netns exec tor timeout 20 tcpdump -l -c 1 -e -nn -i up-eth2 "
                        f"'vlan {vlan} and icmp' </dev/null >/tmp/vlan-capture 2>/dev/null &").check()
    time.sleep(3)
    lab.exec("ubuntu1", f"ip netns exec probe ping -c 3 -W 1 198.18.{vlan % 256}.2").check()
    deadline = time.monotonic() + 20
    while f"vlan {vlan}" not in (seen := lab.exec("ubuntu2", "cat /tmp/vlan-capture").output) and time.monotonic() < deadline:
        time.sleep(1)
    assert f"ethertype 802.1Q (0x8100), length" in seen and f"vlan {vlan}," in seen, seen


def test_a_guest_cannot_mount_the_hosts_files(lab, tmp_path):
    marker = tmp_path / "host-secret"
    marker.write_text("only-on-the-host\n")
    for options in ("", f"-o {marker.parent}", "-o /", "-o ../../..", "-o /etc"):
        result = lab.exec("ubuntu1", f"mkdir -p /mnt/h && mount -t hostfs {options} none /mnt/h && ls /mnt/h")
        assert not result.ok, (options, result.output)
        assert "only-on-the-host" not in result.output
        # The kernel's hostfs root is a file (hostfs=/dev/null): no path through it resolves.
        assert "Not a directory" in result.output, (options, result.output)


def test_a_guests_config_drive_is_read_only(lab):
    result = lab.exec("ubuntu1", "dd if=/dev/zero of=/dev/ubdp bs=512 count=1 conv=fsync")
    assert not result.ok, result.output
    assert lab.exec("ubuntu1", "tar -t -f /dev/ubdp").check().output.split() != []


def test_a_guest_reaches_the_master_and_no_other_guest_on_the_control_network(lab):
    master = lab.layout.master_ip
    other = lab.layout.hosts["ubuntu2"]["control_ip"]
    # The master answers (so the refusals below are the wall, not a dead network).
    assert lab.exec("ubuntu1", f"ping -c 1 -W 2 {master}").ok
    assert lab.exec("ubuntu1", f"timeout 5 bash -c 'exec 3<>/dev/tcp/{master}/4506'").ok
    assert not lab.exec("ubuntu1", f"ping -c 2 -W 1 {other}").ok
    assert not lab.exec("ubuntu1", f"timeout 5 bash -c 'exec 3<>/dev/tcp/{other}/7100'").ok
    # Not through the master either: it does not route between guests.
    route = lab.exec("ubuntu1", f"ip route replace {other}/32 via {master} dev vec0 && ping -c 2 -W 1 {other}")
    lab.exec("ubuntu1", f"ip route del {other}/32")
    assert not route.ok, route.output


def test_the_command_channel_runs_only_requests_signed_with_the_guests_own_key(lab):
    import base64

    name = "ubuntu3"
    flag = f"/root/channel-{secrets.token_hex(4)}"
    encoded = base64.b64encode(f"touch {flag}".encode()).decode()
    own_key = bytes.fromhex((lab.layout.cfg_dir(name) / "exec.key").read_text())
    other_key = bytes.fromhex((lab.layout.cfg_dir("ubuntu2") / "exec.key").read_text())

    def signed(key, token):
        return sign_request(key, token, encoded)

    now = int(time.time())
    attempts = {
        "unsigned (the old protocol)": f"BRINE-LAB-0123 {encoded}",
        "garbage MAC": f"{'0' * 64} {now}-ab {encoded}",
        "another guest's key": f"{signed(other_key, f'{now}-ab')} {now}-ab {encoded}",
        "stale token": f"{signed(own_key, f'{now - 3600}-ab')} {now - 3600}-ab {encoded}",
    }
    for what, line in attempts.items():
        answer = lab.send_request(name, line)
        assert "brine-lab-exec: refused" in answer, (what, answer)
    assert not lab.exec(name, f"test -e {flag}").ok
    # The same request signed with this guest's own key runs.
    token = f"{now}-cd"
    answer = lab.send_request(name, f"{signed(own_key, token)} {token} {encoded}")
    assert answer.strip().endswith(f"{token} 0"), answer
    assert lab.exec(name, f"test -e {flag} && rm {flag}").ok


def test_root_has_no_password_login(lab):
    for name in lab.layout.hosts:
        status = lab.exec(name, "passwd -S root").check().output.split()
        assert status[1] == "L", (name, status)
