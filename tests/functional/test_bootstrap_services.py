"""
The bootstrap host's NTP, DNS and proxy services really running, between network namespaces:
Salt renders chrony's, Unbound's and Squid's configurations for the example lab (in a sandbox),
the daemons run them verbatim in the server namespace (10.10.0.5 on the management bridge), and
a guest namespace on the management network synchronises its clock, resolves a lab name and
fetches a file through the proxy. Daemon state directories are private tmpfs mounts, chronyd
runs with -x (it never touches the shared system clock), and nothing leaves the namespaces.
"""

import re

import pytest
from brine_testlib import wait_for
from dhcp_testbed import Testbed

CONFIGS = {
    "chrony": "/etc/chrony/chrony.conf",
    "unbound": "/etc/unbound/unbound.conf.d/brine.conf",
    "squid": "/etc/squid/squid.conf",
}
SERVER_STATE_DIRS = ["/var/lib/chrony", "/var/lib/unbound", "/var/spool/squid", "/var/log/squid", "/var/log/chrony"]


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    from brine_testlib import SaltCall

    salt_call = SaltCall(tmp_path_factory.mktemp("services") / "salt")
    calls = [["state.apply", "bootstrap.config.ntp,bootstrap.config.dns,bootstrap.config.proxy"]]
    calls += [["file.read", path] for path in CONFIGS.values()]
    apply, *texts = salt_call.in_sandbox(["/etc/chrony", "/etc/unbound/unbound.conf.d", "/etc/squid"], calls, minion_id="bootstrap")
    assert all(r["result"] is True for r in apply.values()), apply
    return dict(zip(CONFIGS, texts))


@pytest.fixture
def lab(tmp_path):
    with Testbed(tmp_path, address="10.10.0.5", prefix=24, bridge="mgmt0", server_tmpfs=SERVER_STATE_DIRS) as bed:
        yield bed


def test_chrony_client_synchronises_to_the_bootstrap_host(rendered, lab, tmp_path):
    conf = tmp_path / "chrony.conf"
    conf.write_text(rendered["chrony"])
    lab.start(lab.server, ["chronyd", "-d", "-x", "-f", str(conf)], log_path=str(tmp_path / "chronyd.log"), tag="chronyd")
    guest = lab.add_guest("52:54:00:10:02:02", address="10.10.0.12/24")
    # chronyd -Q: measure the offset against the server, as a client would, without setting the clock.
    result = wait_for(lambda: _measure(guest), timeout=60, interval=1)
    assert result, (tmp_path / "chronyd.log").read_text()
    assert abs(float(result.group(1))) < 1.0


def _measure(guest):
    proc = guest.run(["chronyd", "-Q", "-t", "8", "server 10.10.0.5 iburst maxpoll 1"], check=False, timeout=30)
    return re.search(r"System clock wrong by (-?[0-9.]+) seconds", proc.stdout + proc.stderr)


def test_unbound_answers_lab_names_on_the_management_network(rendered, lab, tmp_path):
    conf = tmp_path / "unbound.conf"
    # Running as root without chroot in a namespace; everything else is the rendered file.
    conf.write_text(
        "server:\n    chroot: \"\"\n    username: \"\"\n    use-syslog: no\n    logfile: \"\"\n"
        f"    pidfile: \"{tmp_path / 'unbound.pid'}\"\n"
        f"include: \"{tmp_path / 'brine.conf'}\"\n"
    )
    (tmp_path / "brine.conf").write_text(rendered["unbound"])
    unbound = lab.start(lab.server, ["unbound", "-d", "-c", str(conf)], log_path=str(tmp_path / "unbound.log"), tag="unbound")
    guest = lab.add_guest("52:54:00:10:03:02", address="10.10.0.13/24")
    with open(guest.resolv_conf, "w") as fh:
        fh.write("nameserver 10.10.0.5\n")
    answer = wait_for(lambda: guest.run(["getent", "ahostsv4", "ubuntu1.lab.home.arpa"], check=False).stdout, timeout=30)
    assert unbound.poll() is None, (tmp_path / "unbound.log").read_text()
    assert answer.split()[0] == "10.10.0.11", answer
    vip = guest.run(["getent", "ahostsv4", "internal.lab.home.arpa"], check=False).stdout
    assert vip.split()[0] == "10.10.0.100"
    reverse = guest.run(["getent", "hosts", "10.10.0.12"], check=False).stdout
    assert "ubuntu2.lab.home.arpa" in reverse
    missing = guest.run(["getent", "ahostsv4", "nosuchhost.lab.home.arpa"], check=False)
    assert missing.returncode == 2  # the static lab zone answers NXDOMAIN itself


def test_squid_proxies_http_for_management_hosts(rendered, lab, tmp_path):
    conf = tmp_path / "squid.conf"
    conf.write_text(rendered["squid"])
    # One private mount namespace for both: the swap directories squid -z makes live on its tmpfs.
    start = f"squid -z --foreground -f {conf} && exec squid -N -d 1 -f {conf}"
    lab.start(lab.server, ["sh", "-c", start], log_path=str(tmp_path / "squid.log"), tag="squid")
    # Stands in for a package mirror: a web server in the bootstrap namespace, reached through Squid.
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / "Release").write_text("Origin: Brine test mirror\n")
    lab.start(lab.server, ["python3", "-m", "http.server", "8080", "--bind", "10.10.0.5", "--directory", str(mirror)])
    guest = lab.add_guest("52:54:00:10:01:02", address="10.10.0.11/24")
    fetch = lambda: guest.run(  # noqa: E731
        ["curl", "-sS", "--max-time", "5", "-x", "http://10.10.0.5:3128/", "-D", "-", "http://10.10.0.5:8080/Release"],
        check=False,
    )
    result = wait_for(lambda: (lambda p: p if p.returncode == 0 and "Origin: Brine" in p.stdout else None)(fetch()), timeout=60, interval=1)
    assert result, (tmp_path / "squid.log").read_text()
    assert re.search(r"^Via: .*squid", result.stdout, re.MULTILINE | re.IGNORECASE), result.stdout
