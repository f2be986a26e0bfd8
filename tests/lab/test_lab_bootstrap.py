"""
The bootstrap host's services in the virtual lab (docs/dhcp-bootstrap.md): after one
converge, lab guests get DHCP, time, DNS and the package proxy from the bootstrap host over
the management VLAN of the lab switch.

Every client here is a real one inside a UML guest (ISC dhclient, chronyd, the glibc resolver,
apt). The DHCP client runs with a script that only writes down what the server handed out, so
the guest's converged network stays as it is. Nothing is sent anywhere but to lab guests.
What a test starts in a guest (dhclient daemons, network namespaces, a web server) it removes.

Measured in the lab on 2 shared cores, load 13-21: the reserved exchange (dhclient start to
BOUND, through the control channel) 6-10 s; the unknown MAC's 10-12 s; the chrony check of the
three clients and the server 23 s (already synchronised a few minutes after the converge);
apt-helper through Squid by name 8 s including the web server's start; `state.apply` of the
bootstrap host after a squid.conf change 83 s (Squid's restart alone 38 s). The unknown MAC at
the master: listed 2.2 s after the request started (load ~5 with two other labs up).
"""

import ipaddress
import json
import re
import secrets
import shlex
import time

import pytest
import yaml
from brine_testlib import sourced
from lab_testlib import wait_until

BOOTSTRAP = "bootstrap"
CLIENT = "ubuntu1"
# The chrony clients checked: the hosts no earlier test reboots. ubuntu3 is power-cycled by
# test_lab.py's power test just before; its network comes back with it (test_lab_dualbond.py
# proves that), but chrony re-synchronises on its own poll schedule after a boot.
CLIENTS = ("ubuntu1", "ubuntu2")
WORK = "/run/brine-bootstrap-test"  # in the guests; removed afterwards
NETNS = "brinedhcp"  # ubuntu1's namespace for DHCP clients with made-up MACs

# The request list of Debian's dhclient.conf (interface-mtu is option 26).
DHCLIENT_CONF = """\
request subnet-mask, broadcast-address, time-offset, routers, domain-name,
        domain-name-servers, host-name, interface-mtu, ntp-servers;
timeout {timeout};
retry 1;
"""

# dhclient's script: writes down what the server handed out and changes nothing (no address,
# no MTU, no route, no resolv.conf), so the converged network of the guest stays as it is.
REPORT_SCRIPT = """\
#!/bin/sh
case "$reason" in
  BOUND|RENEW|REBIND|REBOOT)
    env | grep -E '^(reason|interface|new_[a-z0-9_]+)=' | sort > {report}.tmp
    mv {report}.tmp {report} ;;
esac
exit 0
"""


def local_mac():
    """A made-up locally administered unicast MAC (no inventory or vendor MAC is like it)."""
    return "02:b7:1e:" + ":".join(f"{b:02x}" for b in secrets.token_bytes(3))


@pytest.fixture(scope="module")
def settings(converged_lab):
    """What the bootstrap states rendered from: management network, bootstrap address and
    interface, reservations, proxy URL (brine_bootstrap.bootstrap_settings)."""
    return converged_lab.salt_json(BOOTSTRAP, "brine_bootstrap.bootstrap_settings")[BOOTSTRAP]


@pytest.fixture(scope="module")
def guests(converged_lab):
    """A scratch directory in the client and bootstrap guests; afterwards every dhclient
    started from it is stopped and the client's DHCP namespace is gone."""
    lab = converged_lab
    for host in (CLIENT, BOOTSTRAP):
        lab.exec(host, f"rm -rf {WORK} && mkdir -p {WORK}").check()
    yield lab
    lab.exec(
        CLIENT,
        f"for p in {WORK}/*.pid; do [ -e \"$p\" ] && kill $(cat \"$p\") 2>/dev/null; done; "
        f"ip netns del {NETNS} 2>/dev/null; rm -rf {WORK}; true",
    ).check()
    lab.exec(BOOTSTRAP, f"systemctl stop brine-test-http brine-test-dhcpcap 2>/dev/null; rm -rf {WORK}; true").check()
    left = lab.exec(CLIENT, f"ip netns list | grep -w {NETNS}; pgrep -a dhclient; true").check().output.strip()
    assert left == "", f"left behind on {CLIENT}: {left}"


def interface_with(lab, host, address):
    """(name, mac, mtu) of the interface of ``host`` that holds ``address``."""
    for link in json.loads(lab.exec(host, "ip -j addr show").check().output):
        if any(a.get("local") == address for a in link.get("addr_info", [])):
            return link["ifname"], link["address"], link["mtu"]
    raise AssertionError(f"{host} has no interface with {address}")


def dhcp_exchange(lab, name, interface, netns=None, timeout=30):
    """Run ISC dhclient once on ``interface`` of the client guest (in ``netns`` if given) with
    the report-only script. Returns (got a lease, dhclient's output, {variable: value} of what
    the server handed out). The dhclient daemon left after a lease is stopped."""
    d = f"{WORK}/{name}"
    script = REPORT_SCRIPT.format(report=f"{d}.report")
    prefix = f"ip netns exec {NETNS} " if netns else ""
    command = (
        f"printf %s {shlex.quote(DHCLIENT_CONF.format(timeout=timeout))} > {d}.conf && "
        f"printf %s {shlex.quote(script)} > {d}.sh && chmod 755 {d}.sh && rm -f {d}.report {d}.leases && "
        f"{prefix}dhclient -4 -1 -v -cf {d}.conf -lf {d}.leases -pf {d}.pid -sf {d}.sh {interface}; rc=$?; "
        # Bound, dhclient forks a daemon that writes its pid file after the parent returned.
        f"if [ $rc = 0 ]; then for i in $(seq 100); do [ -s {d}.pid ] && break; sleep 0.2; done; fi; "
        f"[ -s {d}.pid ] && kill $(cat {d}.pid); rm -f {d}.pid; exit $rc"
    )
    result = lab.exec(CLIENT, command, timeout=timeout + 90)
    report = lab.exec(CLIENT, f"cat {d}.report 2>/dev/null || true").check().output
    values = dict(line.split("=", 1) for line in report.splitlines() if "=" in line)
    return result.ok, result.output, {k: v.strip("'") for k, v in values.items()}


def dhcpd_log(lab):
    return lab.exec(BOOTSTRAP, "journalctl --no-pager -o cat -t dhcpd").check().output


def discovered(lab):
    return {entry["mac"]: entry for entry in lab.salt_json(BOOTSTRAP, "dhcp_reservations.discover")[BOOTSTRAP]}


def add_macvlan(lab, parent, mac):
    """A macvlan NIC ``dhcp0`` with ``mac`` on ubuntu1's ``parent``, alone in namespace NETNS
    (so nothing the client does can touch ubuntu1's own network)."""
    lab.exec(
        CLIENT,
        f"ip netns del {NETNS} 2>/dev/null; ip netns add {NETNS} && "
        f"ip link add link {parent} name brtdhcp0 address {mac} type macvlan mode bridge && "
        f"ip link set brtdhcp0 netns {NETNS} && ip -n {NETNS} link set brtdhcp0 name dhcp0 && "
        f"ip -n {NETNS} link set lo up && ip -n {NETNS} link set dhcp0 up",
    ).check()


# ------------------------------------------------------------------------------ DHCP


def test_a_reserved_mac_gets_its_address_and_mtu_9000_by_a_real_dhcp_exchange(guests, settings):
    lab = guests
    mine = {r["host"]: r for r in settings["reservations"]}[CLIENT]
    # After the converge ubuntu1's management VLAN sits on the dual bond's bridge, which carries
    # the reserved NIC's MAC: a DHCP client there asks as the inventory's eth2.
    interface, mac, mtu = interface_with(lab, CLIENT, mine["ip"])
    assert mac == mine["mac"], f"{interface} carries {mac}, the reservation is for {mine['mac']}"
    before = lab.exec(CLIENT, f"ip -j addr show dev {interface}; ip -j route").check().output

    ok, output, got = dhcp_exchange(lab, "reserved", interface)
    assert ok, f"dhclient on {CLIENT}:{interface} got no lease:\n{output}"
    assert got["reason"] == "BOUND", got
    assert got["new_ip_address"] == mine["ip"]
    assert got["new_interface_mtu"] == str(settings["mtu"]) == "9000"  # option 26
    assert mtu == 9000  # what the network role configured agrees with what DHCP hands out
    assert got["new_subnet_mask"] == str(ipaddress.ip_network(settings["cidr"]).netmask)
    assert got["new_dhcp_server_identifier"] == settings["address"]
    assert got["new_host_name"] == mine["hostname"]
    assert got["new_domain_name"] == settings["domain"]
    assert got["new_domain_name_servers"] == settings["address"]
    assert got["new_ntp_servers"] == settings["address"]
    assert got["new_next_server"] == settings["address"]
    assert got["new_filename"] == settings["pxe"]["filename"]  # a BIOS client: pxelinux
    # The report-only script changed nothing: the converged network is as it was.
    assert lab.exec(CLIENT, f"ip -j addr show dev {interface}; ip -j route").check().output == before
    # The bootstrap host's dhcpd answered it on its management interface.
    assert re.search(rf"DHCPACK on {re.escape(mine['ip'])} to {re.escape(mine['mac'])} .*via {re.escape(settings['interface'])}$",
                     dhcpd_log(lab), re.MULTILINE), dhcpd_log(lab)[-3000:]
    # A reserved MAC is not "discovered".
    assert mine["mac"] not in discovered(lab)


def test_dhcpd_serves_the_management_vlan_only(guests, settings):
    lab = guests
    interfaces = lab.exec(BOOTSTRAP, "cat /etc/default/isc-dhcp-server").check().output
    assert sourced(interfaces)["INTERFACESv4"] == settings["interface"]
    # Debian's init script passes the interfaces to dhcpd as its last arguments.
    argv = lab.exec(BOOTSTRAP, "ps -o args= -C dhcpd").check().output.split()
    assert argv[0].endswith("dhcpd") and argv[-1] == settings["interface"], argv

    # The untagged segment of the same switch ports (where a home network would be): the
    # bootstrap host receives a client's DISCOVER on its NIC and dhcpd does not answer it.
    parent = settings["interface"].split(".")[0]
    lab.exec(
        BOOTSTRAP,
        f"systemd-run --quiet --collect --unit=brine-test-dhcpcap sh -c "
        f"'exec tcpdump -l -n -e -i {parent} udp port 67 or udp port 68 > {WORK}/dhcpcap.txt 2>&1'",
    ).check()
    wait_until("tcpdump on the bootstrap host",
               lambda: "listening on" in lab.exec(BOOTSTRAP, f"cat {WORK}/dhcpcap.txt").output, timeout=60)
    # ubuntu1's bridge under its management VLAN: untagged frames on the same cable.
    untagged = interface_with(lab, CLIENT, {r["host"]: r for r in settings["reservations"]}[CLIENT]["ip"])[0].split(".")[0]
    stranger = local_mac()
    add_macvlan(lab, untagged, stranger)
    try:
        ok, output, got = dhcp_exchange(lab, "untagged", "dhcp0", netns=NETNS, timeout=20)
    finally:
        lab.exec(CLIENT, f"ip netns del {NETNS}").check()
        lab.exec(BOOTSTRAP, "systemctl stop brine-test-dhcpcap").check()
    capture = lab.exec(BOOTSTRAP, f"cat {WORK}/dhcpcap.txt").check().output
    assert not ok and got == {}, f"an untagged client got a lease:\n{output}\n{got}"
    assert re.search(rf"^\S+ {stranger} > ff:ff:ff:ff:ff:ff.*Request from {stranger}", capture, re.MULTILINE), capture
    assert "Reply" not in capture, capture
    assert stranger not in dhcpd_log(lab)
    assert stranger not in discovered(lab)


def test_an_unknown_mac_gets_a_dynamic_address_and_shows_up_in_discover(guests, settings):
    lab = guests
    interface = interface_with(lab, CLIENT, {r["host"]: r for r in settings["reservations"]}[CLIENT]["ip"])[0]
    stranger = local_mac()
    add_macvlan(lab, interface, stranger)
    try:
        ok, output, got = dhcp_exchange(lab, "unknown", "dhcp0", netns=NETNS)
    finally:
        lab.exec(CLIENT, f"ip netns del {NETNS}").check()
    assert ok, f"dhclient with the unknown MAC {stranger} got no lease:\n{output}"
    network = ipaddress.ip_network(settings["cidr"])
    leased = ipaddress.ip_address(got["new_ip_address"])
    reserved = {r["ip"] for r in settings["reservations"]}
    assert leased in network and str(leased) not in reserved, got
    assert got["new_interface_mtu"] == "9000"
    assert "new_host_name" not in got  # no reservation, no name

    entry = discovered(lab).get(stranger)
    assert entry, f"{stranger} is not in dhcp_reservations.discover on {BOOTSTRAP}"
    assert entry["ip"] == str(leased)
    assert entry["interface"] == settings["interface"]
    assert entry["count"] >= 4  # DISCOVER, OFFER, REQUEST, ACK
    assert entry["first_seen"] <= entry["last_seen"]


# The engine's journalctl (brine_filewatch, watch dhcp_log: journal:dhcpd): running means the
# engine is past its loader and follows dhcpd's messages from then on (--lines=0).
FOLLOWER = "journalctl --follow --lines=0 --no-pager -o short-iso -t dhcpd"


def test_an_unknown_macs_request_is_in_the_masters_discovered_machines(guests, settings):
    """Unknown-MAC discovery at the master, end to end: dhcpd logs only to the journal (no rsyslog in the lab
    image), the bootstrap host's brine_filewatch follows it, its brine/dhcp/unknown event
    reaches the lab master's reactor, and `salt-run brine.discovered` lists the machine."""
    lab = guests
    conf = yaml.safe_load(lab.exec(BOOTSTRAP, "cat /etc/salt/minion.d/brine-events.conf").check().output)
    (engine,) = conf["engines"]
    assert engine["brine_filewatch"]["watches"] == {"dhcp_log": "journal:dhcpd"}, conf
    assert {r["mac"] for r in settings["reservations"]} <= set(engine["brine_filewatch"]["known_macs"]), conf
    assert not lab.exec(BOOTSTRAP, "test -e /var/log/syslog").ok  # why the journal was chosen
    # The engine starts with the (restarted) minion; in a UML guest its loader takes a while.
    started = time.monotonic()
    wait_until("the bootstrap host's filewatch engine to follow dhcpd's journal",
               lambda: lab.exec(BOOTSTRAP, f"pgrep -f -x {shlex.quote(FOLLOWER)}").ok, timeout=300, interval=2)
    print(f"\n(brine_filewatch's journalctl on {BOOTSTRAP}: running after {time.monotonic() - started:.0f} s of waiting)")
    time.sleep(2)  # journalctl --lines=0 seeks to the journal's end just after it starts

    interface = interface_with(lab, CLIENT, {r["host"]: r for r in settings["reservations"]}[CLIENT]["ip"])[0]
    stranger = local_mac()
    assert stranger not in {m["mac"] for m in lab.salt_run("brine.discovered")}
    add_macvlan(lab, interface, stranger)
    try:
        asked = time.time()
        ok, output, got = dhcp_exchange(lab, "discovered", "dhcp0", netns=NETNS)
    finally:
        lab.exec(CLIENT, f"ip netns del {NETNS}").check()
    assert ok, f"dhclient with the unknown MAC {stranger} got no lease:\n{output}"
    leased = got["new_ip_address"]

    def listed():
        found = [m for m in lab.salt_run("brine.discovered") if m["mac"] == stranger]
        # The exchange's four messages may come in more than one event; wait for the lease.
        return found if found and found[0].get("ip") == leased and found[0].get("count", 0) >= 4 else None

    try:
        (machine,) = wait_until(f"{stranger} in salt-run brine.discovered on the lab master", listed, timeout=120,
                                detail=lambda: lab.salt_run("brine.events", "tag=brine/dhcp/unknown", "limit=5"))
        print(f"{stranger}: DHCP exchange -> listed by salt-run brine.discovered "
              f"{machine['updated'] - asked:.1f} s after the request started")
        assert machine["reported_by"] == BOOTSTRAP
        assert machine["interface"] == settings["interface"]
        assert machine["first_seen"] <= machine["last_seen"]
        assert machine["inventory"] == {"roles": [], "nics": {settings["interface"]: {"mac": stranger}}}
        # The reserved hosts' own DHCP traffic (the test before renewed ubuntu1's lease) is not.
        reserved = {r["mac"] for r in settings["reservations"]}
        assert not reserved & {m["mac"] for m in lab.salt_run("brine.discovered")}
    finally:
        lab.salt_run("brine.forget", stranger)


# ------------------------------------------------------------------------------ NTP


def test_chrony_clients_synchronise_to_the_bootstrap_host(converged_lab, settings):
    lab = converged_lab
    server = settings["address"]
    # The bootstrap host has no upstream in the lab (no route out): it serves its own clock.
    conf = lab.exec(BOOTSTRAP, "cat /etc/chrony/chrony.conf").check().output
    assert re.search(r"^local stratum \d+", conf, re.MULTILINE), conf

    last = {}

    def synced():
        last.update({host: lab.exec(host, "chronyc -n sources").output for host in CLIENTS})
        # '^*': the source chronyd selected and synchronises to.
        return dict(last) if all(re.search(rf"^\^\* {re.escape(server)}\s", last[h], re.MULTILINE) for h in CLIENTS) else None

    sources = wait_until(f"{', '.join(CLIENTS)} to select {server}", synced, timeout=240, interval=5,
                         detail=lambda: "\n".join(f"{host}:\n{out}" for host, out in last.items()))
    for host in CLIENTS:
        lines = [line for line in sources[host].splitlines() if line.startswith("^")]
        assert [line.split()[1] for line in lines] == [server], (host, sources[host])
        tracking = lab.exec(host, "chronyc -n tracking").check().output
        assert re.search(rf"^Reference ID\s*: [0-9A-F]+ \({re.escape(server)}\)$", tracking, re.MULTILINE), tracking
        assert "Leap status     : Normal" in tracking, tracking
    # The server itself: synchronised to its local clock at the configured stratum.
    tracking = lab.exec(BOOTSTRAP, "chronyc -n tracking").check().output
    stratum = int(re.search(r"^local stratum (\d+)", conf, re.MULTILINE).group(1))
    assert re.search(r"^Reference ID\s*: 7F7F0101 ", tracking, re.MULTILINE), tracking
    assert re.search(rf"^Stratum\s*: {stratum}$", tracking, re.MULTILINE), tracking
    client = lab.exec(CLIENTS[0], "chronyc -n tracking").check().output
    assert re.search(rf"^Stratum\s*: {stratum + 1}$", client, re.MULTILINE), client


# ------------------------------------------------------------------------------ DNS


def resolve(lab, host, server, *getent_args):
    """``getent ARGS`` on ``host`` through the glibc resolver, with a resolv.conf (private to
    this command) that names only ``server``."""
    command = (
        f"unshare --mount --propagation private sh -ec "
        + shlex.quote(
            f"printf 'nameserver {server}\\noptions timeout:3 attempts:2\\n' > {WORK}/resolv.conf; "
            f"mount --bind {WORK}/resolv.conf /etc/resolv.conf; exec getent {shlex.join(getent_args)}"
        )
    )
    return lab.exec(host, command, timeout=60)


def test_unbound_on_the_bootstrap_host_answers_the_lab_names(guests, settings):
    lab = guests
    server, domain = settings["address"], settings["domain"]
    vips = lab.layout.inventory.get("vips") or {}
    # Only names of the lab's own zone: they are answered from local data, nothing leaves the lab.
    expected = {f"{r['hostname']}.{domain}": r["ip"] for r in settings["reservations"]}
    expected.update({vip["fqdn"]: vip["address"] for vip in vips.values() if vip.get("fqdn", "").endswith("." + domain)})
    assert {f"ubuntu1.{domain}", f"bootstrap.{domain}", f"internal.{domain}", f"cloud.{domain}"} <= set(expected)
    first = wait_until("Unbound to answer", lambda: resolve(lab, CLIENT, server, "ahostsv4", f"ubuntu1.{domain}").ok, timeout=60)
    assert first
    for name, address in expected.items():
        answer = resolve(lab, CLIENT, server, "ahostsv4", name)
        assert answer.ok and answer.output.split()[0] == address, (name, answer.output)
    reverse = resolve(lab, CLIENT, server, "hosts", expected[f"ubuntu2.{domain}"])
    assert reverse.ok and f"ubuntu2.{domain}" in reverse.output.split(), reverse.output
    missing = resolve(lab, CLIENT, server, "ahostsv4", f"nosuchhost.{domain}")
    assert missing.returncode == 2, missing.output  # NXDOMAIN from the static lab zone


# ------------------------------------------------------------------------------ proxy


def test_apt_on_a_lab_host_goes_through_squid_on_the_bootstrap_host(guests, settings):
    lab = guests
    url = settings["proxy"]["url"]
    dump = lab.exec(CLIENT, "apt-config dump").check().output
    assert f'Acquire::http::Proxy "{url}";' in dump, dump
    # A stand-in for a package mirror inside the lab: a web server on the bootstrap host.
    address = settings["address"]
    token = secrets.token_hex(8)
    lab.exec(
        BOOTSTRAP,
        f"mkdir -p {WORK}/mirror/dists/brine && echo 'Origin: Brine lab {token}' > {WORK}/mirror/dists/brine/Release && "
        f"systemd-run --quiet --collect --unit=brine-test-http python3 -m http.server 8080 --bind {address} --directory {WORK}/mirror",
    ).check()
    try:
        wait_until("the stand-in mirror to listen",
                   lambda: f"{address}:8080" in lab.exec(BOOTSTRAP, "ss -Hltn").output, timeout=60)
        # By the bootstrap host's name in the lab zone: Squid resolves it through the lab's
        # Unbound (the bootstrap host's own resolv.conf names no server of the lab).
        target = f"http://{BOOTSTRAP}.{settings['domain']}:8080/dists/brine/Release"
        # apt's own download code (apt-helper), with the configuration apt-config showed.
        fetched = lab.exec(
            CLIENT,
            f"/usr/lib/apt/apt-helper -o Acquire::Retries=0 -o Acquire::http::Timeout=30 "
            f"download-file {target} {WORK}/Release && cat {WORK}/Release",
            timeout=180,
        )
        assert fetched.ok and f"Origin: Brine lab {token}" in fetched.output, fetched.output
        # ... and it came through Squid, from ubuntu1's management address.
        client_ip = {r["host"]: r for r in settings["reservations"]}[CLIENT]["ip"]
        access = wait_until("Squid's access log to show the request",
                            lambda: [line for line in lab.exec(BOOTSTRAP, "cat /var/log/squid/access.log").output.splitlines()
                                     if f" {client_ip} " in line and f"GET {target} " in line], timeout=30)
        assert re.search(r" TCP_[A-Z_]+/200 ", access[-1]), access
        # Squid answers by itself too: a request for a closed port in the lab gets its error page.
        closed = lab.exec(
            CLIENT,
            "python3 -c " + shlex.quote(
                "import sys, urllib.request as u\n"
                f"o = u.build_opener(u.ProxyHandler({{'http': '{url}'}}))\n"
                "try:\n"
                # HEAD: the error page's headers are what is checked.
                f"    o.open(u.Request('http://{address}:8081/', method='HEAD'), timeout=30)\n"
                "except u.HTTPError as e:\n"
                "    print(e.code, e.headers.get('Server'), e.headers.get('X-Squid-Error'))\n"
            ),
            timeout=120,
        ).check().output
        assert re.search(r"^5\d\d squid\S* ERR_", closed, re.MULTILINE), closed
    finally:
        lab.exec(BOOTSTRAP, "systemctl stop brine-test-http").check()
