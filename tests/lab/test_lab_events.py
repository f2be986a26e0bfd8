"""
Event-driven operations in the virtual lab (docs/events.md): the watchers the converge configured
(salt/brine/events.sls) on real guests, the lab master's reactors, and what they do.

Times are printed, not asserted: the guests share 2 cores with other labs. Each wait polls with
a generous timeout; the figures are in docs/events.md.
"""

import hashlib
import shlex
import time

import pytest
import yaml
from brine_testlib import REPO, wait_for

NOVA_CONF = "/etc/nova/nova.conf"
NOVA_HOST = "ubuntu2"
# What a configuration tool (a package's postinst, Kolla, an operator's template) writes: no VNC.
NOVA_CONF_WITHOUT_VNC = """\
[DEFAULT]
debug = false
state_path = /var/lib/nova

[libvirt]
virt_type = qemu
"""
# The lab image has no nova: a stand-in nova-compute unit (a process that only sleeps) lets the
# test see whether the state restarted "nova-compute" (its InvocationID changes on a restart).
STANDIN_UNIT = """\
[Unit]
Description=Stand-in nova-compute for Brine's lab tests (no nova in the lab image)
[Service]
ExecStart=/bin/sleep infinity
"""


def recorded(lab, minion, tag, since, **fields):
    entries = lab.salt_run("brine.events", f"minion={minion}", f"tag={tag}", f"since={since}", "limit=0")
    return [e for e in entries or [] if all((e.get("event") or {}).get(k) == v for k, v in fields.items())]


def ovs_active(lab, host, bond):
    out = lab.exec(host, f"ovs-appctl bond/show {bond}").check().output
    for line in out.splitlines():
        # "active member mac: 52:54:00:10:03:02(eth2)" (older OVS: "active slave mac")
        if line.startswith(("active member mac", "active slave mac")) and "(" in line:
            return line.rsplit("(", 1)[1].rstrip(")")
    return None


def linux_active(lab, host, bond):
    out = lab.exec(host, f"cat /proc/net/bonding/{bond}").check().output
    for line in out.splitlines():
        if line.startswith("Currently Active Slave:"):
            return line.split(":", 1)[1].strip()
    return None


# Whether an engine process of the minion is watching yet. Salt starts engines with the minion,
# but in a UML guest an engine's loader takes tens of seconds before it subscribes: a cable cut
# before that is not seen (it is the engine's baseline). Ready means: brine_linkwatch holds a
# NETLINK_ROUTE socket bound to RTMGRP_LINK (/proc/net/netlink: protocol 0, group bit 1);
# brine_filewatch holds an inotify descriptor.
ENGINE_READY = r"""
pid=$(pgrep -f 'Engine\(salt.loaded.ext.engines.{engine}\)' | head -1)
[ -n "$pid" ] || exit 1
inodes=" $(ls -l /proc/$pid/fd 2>/dev/null | sed -n 's/.*socket:\[\([0-9]*\)\]$/\1/p' | tr '\n' ' ') "
case {engine} in
  brine_linkwatch) awk -v ino="$inodes" '$2 == 0 && $4 ~ /[13579bdfBDF]$/ && index(ino, " " $NF " ")' /proc/net/netlink | grep -q . ;;
  brine_filewatch) ls -l /proc/$pid/fd 2>/dev/null | grep -q inotify ;;
esac
"""


def bonded(lab, host):
    """The dual bond's NICs as the converge left them: administratively up. A power cycle
    (test_lab.py's) can leave an Open vSwitch host's NICs down (the network role's business,
    not the watchers'); then the network state is applied again, and the test says so."""
    def nics_up():
        out = lab.exec(host, "ip -br link show eth2; ip -br link show eth3").check().output
        return all("UP" in line.split()[-1].strip("<>").split(",") for line in out.splitlines() if line.strip())

    if not nics_up():
        print(f"\n({host}: eth2/eth3 were down, as after a power cycle: state.apply network first)")
        results = lab.salt_json(host, "state.apply", "network")
        assert all(s["result"] is True for s in results[host].values()), results
        assert wait_for(nics_up, timeout=60)


def wait_engine(lab, host, engine, timeout=300):
    started = time.monotonic()
    probes = []

    def watching():
        probes.append(lab.exec(host, ENGINE_READY.format(engine=engine)).ok)
        return probes[-1]

    assert wait_for(watching, timeout=timeout, interval=1), f"{engine} on {host} is not watching after {timeout} s"
    if len(probes) > 1:
        print(f"\n({engine} on {host} was not watching yet; it was after {time.monotonic() - started:.0f} s)")


def test_the_converge_configured_the_watchers_and_the_minions_run_them(converged_lab):
    lab = converged_lab
    conf = lab.exec("ubuntu3", "cat /etc/salt/minion.d/brine-events.conf").check().output
    assert "brine_linkwatch" in conf and "backend: ovs" in conf and "nova_conf: /etc/nova/nova.conf" in conf
    # The watchers' code as the master serves it: when it changes, the file changes and the
    # minion restarts onto it (an engine keeps the code it started with).
    code = yaml.safe_load(conf)["brine_events_code"]
    assert code["_engines/brine_linkwatch.py"] == hashlib.sha256((REPO / "_engines" / "brine_linkwatch.py").read_bytes()).hexdigest()
    assert set(code) >= {"_engines/brine_filewatch.py", "_engines/brine_outbox.py", "_modules/dualbond.py",
                         "_modules/nova_console.py", "_utils/brinelib/outbox.py"}
    engines = {name: args for engine in yaml.safe_load(conf)["engines"] for name, args in engine.items()}
    assert engines["brine_outbox"] == {"directory": "/run/brine/outbox",
                                       "tags": ["brine/galera/stopped", "brine/vip/state"]}
    conf = yaml.safe_load(lab.exec("bootstrap", "cat /etc/salt/minion.d/brine-events.conf").check().output)
    engines = {name: args for engine in conf["engines"] for name, args in engine.items()}
    assert list(engines) == ["brine_filewatch"] and "dhcp_log" in engines["brine_filewatch"]["watches"]
    # The minions the first apply configured restarted (in the background, after the run) and
    # answer; the apply after that changes nothing, so nothing restarts again.
    assert set(lab.restarted_minions) == set(lab.layout.hosts)
    assert lab.salt_json("*", "test.ping") == {name: True for name in lab.layout.hosts}


def test_a_cut_cable_is_recorded_at_the_master(converged_lab):
    lab = converged_lab
    bonded(lab, "ubuntu3")
    wait_engine(lab, "ubuntu3", "brine_linkwatch")
    since = time.time() - 1
    cut = time.time()
    lab.cut("ubuntu3", "eth2")
    try:
        entries = wait_for(lambda: recorded(lab, "ubuntu3", "brine/net/link/down", since, interface="eth2"), timeout=60)
        assert entries, lab.salt_run("brine.events", "minion=ubuntu3", "limit=10")
        # The master runs on this host: its receipt time and ours are one clock.
        print(f"\nubuntu3 eth2 cut -> brine/net/link/down received by the master after "
              f"{entries[-1]['received'] - cut:.2f} s (the cut's own command round trip included)")
        event = entries[-1]["event"]
        assert event["bond"] == "dualbond" and event["backend"] == "ovs" and event["carrier"] is False
        assert entries[-1]["minion"] == "ubuntu3"
        # A link going down starts nothing; the bond fails over by itself.
        assert entries[-1]["actions"] == []
        assert wait_for(lambda: ovs_active(lab, "ubuntu3", "bond-eth2") not in ("eth2", None), timeout=30)
    finally:
        lab.mend("ubuntu3", "eth2")
    assert wait_for(lambda: ovs_active(lab, "ubuntu3", "bond-eth2") == "eth2", timeout=60)


def cut_until_failover_then_mend(lab, host, active, kind, bond_view):
    """Cut ``host``'s eth2 until bond-eth2 has left it, mend it and wait (timed) until eth2 is
    the active member again (``active``: how to read it; ``bond_view``: a command that shows the
    bond when it is not). Returns the event-log time from which the mend's events count."""
    bonded(lab, host)
    wait_engine(lab, host, "brine_linkwatch")
    lab.cut(host, "eth2")
    try:
        assert wait_for(lambda: active(lab, host, "bond-eth2") not in ("eth2", None), timeout=30)
    finally:
        since = time.time() - 1
        started = time.monotonic()
        lab.mend(host, "eth2")
    back = wait_for(lambda: active(lab, host, "bond-eth2") == "eth2", timeout=180, interval=0.1)
    took = time.monotonic() - started
    print(f"\n{host} ({kind}) eth2 mended -> bond-eth2 active member eth2 again after {took:.2f} s")
    assert back, lab.exec(host, bond_view).output
    return since


def test_ovs_primary_is_reselected_after_the_cable_is_mended(converged_lab):
    lab = converged_lab
    since = cut_until_failover_then_mend(lab, "ubuntu3", ovs_active, "OVS", "ovs-appctl bond/show bond-eth2")
    entries = wait_for(lambda: recorded(lab, "ubuntu3", "brine/net/link/up", since, interface="eth2"), timeout=60)
    assert entries
    # The engine re-selected on the guest itself (the link/up says so) and the master only
    # recorded it: no reselect job from the master.
    assert entries[-1]["event"]["reselect"] == "engine" and entries[-1]["actions"] == []
    reports = wait_for(lambda: recorded(lab, "ubuntu3", "brine/net/bond/reselected", since), timeout=60)
    assert reports, lab.salt_run("brine.events", "minion=ubuntu3", "limit=10")
    report = reports[-1]
    # The real dualbond module ran in the engine, without pillar (the engine has none): an
    # error here would mean the reactor's fallback did the work instead.
    assert "error" not in report["event"], report
    assert report["minion"] == "ubuntu3" and report["event"]["bond"] == "dualbond" and report["actions"] == []
    print(f"(the engine's reselect reported: {report['event']['done']}, "
          f"{report['event']['timestamp'] - entries[-1]['event']['timestamp']:.2f} s after its link/up)")
    assert ovs_active(lab, "ubuntu3", "bond-eth2") == "eth2"


def test_linux_bond_primary_is_back_after_the_cable_is_mended(converged_lab):
    lab = converged_lab
    since = cut_until_failover_then_mend(lab, "ubuntu1", linux_active, "Linux bond", "cat /proc/net/bonding/bond-eth2")
    # Recorded too; a Linux bond with a primary re-selects by itself, so nothing is run for it.
    entries = wait_for(lambda: recorded(lab, "ubuntu1", "brine/net/link/up", since, interface="eth2"), timeout=60)
    assert entries and entries[-1]["event"]["backend"] == "linux" and entries[-1]["actions"] == []


# --------------------------------------------------------------------------- nova.conf


def replace_file(lab, host, path, text):
    """Write ``path`` the way configuration tools do: a temporary file renamed over it."""
    tmp = f"{path}.brine-test-tmp"
    lab.exec(host, f"printf %s {shlex.quote(text)} > {tmp} && mv -f {tmp} {path}").check()


def nova_conf(lab):
    return lab.exec(NOVA_HOST, f"cat {NOVA_CONF}").check().output


def has_vnc(text):
    return "[vnc]" in text and "novncproxy_base_url" in text and "server_listen" in text


def nova_compute_invocation(lab):
    return lab.exec(NOVA_HOST, "systemctl show -P InvocationID nova-compute").check().output.strip()


def settled_digest(lab, quiet=6):
    """The digest of nova.conf once it has stopped changing (the reactor chain settled)."""
    def stable():
        before = lab.exec(NOVA_HOST, f"sha256sum {NOVA_CONF}").check().output.split()[0]
        time.sleep(quiet)
        after = lab.exec(NOVA_HOST, f"sha256sum {NOVA_CONF}").check().output.split()[0]
        return after if after == before else None

    return wait_for(stable, timeout=180, interval=0)


@pytest.fixture
def nova_host(converged_lab):
    """ubuntu2 with a stand-in nova-compute service and no nova.conf; put back afterwards."""
    lab = converged_lab
    wait_engine(lab, NOVA_HOST, "brine_filewatch")
    quoted = shlex.quote(STANDIN_UNIT)
    lab.exec(NOVA_HOST, f"printf %s {quoted} > /etc/systemd/system/nova-compute.service && "
                        "systemctl daemon-reload && systemctl start nova-compute").check()
    try:
        yield lab
    finally:
        # nova.conf first: a state run the reactor still has queued then finds no nova here
        # (nothing to configure, nothing to restart) instead of a missing service.
        # (Not the directory: the watcher's inotify watch is on it.)
        lab.exec(NOVA_HOST, f"rm -f {NOVA_CONF} {NOVA_CONF}.brine-*")
        settle = lab.salt_json(NOVA_HOST, "state.apply", "compute.console", "queue=True")
        assert all(s["result"] is True for s in settle[NOVA_HOST].values()), settle
        lab.exec(NOVA_HOST, "systemctl stop nova-compute; rm -f /etc/systemd/system/nova-compute.service "
                            "/etc/brine/restart-pending/nova-console-compute; systemctl daemon-reload").check()


def test_a_rewritten_nova_conf_gets_its_vnc_settings_back(nova_host):
    lab = nova_host
    lab.exec(NOVA_HOST, "mkdir -p /etc/nova").check()
    # The tool installs nova.conf (no VNC): the file watcher engine puts the VNC options in at
    # once and restarts nova-compute; the reactor's compute.console run then finds them set.
    first = nova_compute_invocation(lab)
    replace_file(lab, NOVA_HOST, NOVA_CONF, NOVA_CONF_WITHOUT_VNC)
    assert wait_for(lambda: has_vnc(nova_conf(lab)), timeout=120), nova_conf(lab)
    settled_digest(lab)
    assert wait_for(lambda: nova_compute_invocation(lab) != first, timeout=60)

    # Rewritten again by the tool, by rename, with the VNC settings removed.
    since = time.time() - 1
    before = nova_compute_invocation(lab)
    started = time.monotonic()
    replace_file(lab, NOVA_HOST, NOVA_CONF, NOVA_CONF_WITHOUT_VNC)
    restored = wait_for(lambda: has_vnc(nova_conf(lab)), timeout=30, interval=0.1)
    took = time.monotonic() - started
    print(f"\n{NOVA_HOST}: nova.conf replaced without VNC -> [vnc] settings back after {took:.2f} s (target 2 s)")
    text = nova_conf(lab)
    assert restored, text
    assert "virt_type = qemu" in text and "state_path = /var/lib/nova" in text  # the tool's lines stay
    # The engine restored the file itself and said so; the master recorded it and still sent
    # compute.console (the authority), which found nothing left to do.
    entries = wait_for(lambda: recorded(lab, NOVA_HOST, "brine/file/changed", since, watch="nova_conf"), timeout=60)
    assert entries and entries[0]["event"]["restored"] == "patched", entries
    assert entries[0]["actions"] == [{"fun": "state.apply", "kwargs": {"mods": "compute.console", "queue": True}}]
    # The settings changed, so nova-compute was restarted to read them: once.
    assert wait_for(lambda: nova_compute_invocation(lab) != before, timeout=60)
    restarted = nova_compute_invocation(lab)
    console = reactor_console_state(lab, since)
    assert console["result"] is True and console["changes"] == {}, console
    settled_digest(lab)
    assert nova_compute_invocation(lab) == restarted


def test_nova_compute_is_not_restarted_when_nothing_changed(nova_host):
    lab = nova_host
    lab.exec(NOVA_HOST, "mkdir -p /etc/nova").check()
    replace_file(lab, NOVA_HOST, NOVA_CONF, NOVA_CONF_WITHOUT_VNC)
    assert wait_for(lambda: has_vnc(nova_conf(lab)), timeout=120), nova_conf(lab)
    digest = settled_digest(lab)
    configured = nova_conf(lab)
    restarted = nova_compute_invocation(lab)

    since = time.time() - 1
    # 1. The same bytes written again by rename: the watcher hashes the content and stays silent.
    replace_file(lab, NOVA_HOST, NOVA_CONF, configured)
    # 2. A change that leaves the VNC settings as they are: reported ("in place": the engine
    #    found nothing to fix), compute.console runs, finds nothing either, restarts nothing.
    unrelated = configured.replace("debug = false", "debug = true")
    assert unrelated != configured
    replace_file(lab, NOVA_HOST, NOVA_CONF, unrelated)
    new_digest = hashlib.sha256(unrelated.encode()).hexdigest()
    entries = wait_for(lambda: recorded(lab, NOVA_HOST, "brine/file/changed", since, watch="nova_conf"), timeout=60)
    assert entries
    # Events are recorded in order: the identical rewrite came first and produced none.
    assert [e["event"]["sha256"] for e in entries] == [new_digest]
    assert entries[0]["event"]["previous"] == digest and entries[0]["event"]["restored"] == "in place"
    # The reactor's state run: find it in the master's job cache and wait for its result.
    console = reactor_console_state(lab, since)
    assert console["result"] is True and console["changes"] == {}, console
    assert nova_conf(lab) == unrelated
    assert nova_compute_invocation(lab) == restarted


def reactor_console_state(lab, since):
    """The ``brine-nova-console`` state of the reactor's compute.console run on the nova host
    started after ``since``, once it has returned."""
    jid = wait_for(lambda: reactor_state_job(lab, since), timeout=60)
    assert jid
    result = wait_for(lambda: lab.salt_run("jobs.lookup_jid", jid).get(NOVA_HOST), timeout=120, interval=1)
    assert isinstance(result, dict), result
    (console,) = [s for s in result.values() if s["__id__"] == "brine-nova-console"]
    return console


def reactor_state_job(lab, since):
    """The jid of the reactor's `state.apply compute.console` on the nova host started after
    ``since`` (the master's job cache; jids are the master's local time)."""
    jobs = lab.salt_run("jobs.list_jobs", "search_function=state.apply") or {}
    for jid, job in sorted(jobs.items()):
        started = time.mktime(time.strptime(jid[:14], "%Y%m%d%H%M%S"))
        if started >= int(since) - 1 and job.get("Target") in ([NOVA_HOST], NOVA_HOST) \
                and "compute.console" in str(job.get("Arguments")):
            return jid
    return None
