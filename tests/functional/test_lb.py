"""
keepalived and HAProxy with the real daemons (docs/loadbalancer.md): every controller's rendered
configs pass `keepalived -t` and `haproxy -c`; the states install them only after that check
(a refused config leaves the live file as it was); the notify script and the track-file writer;
and, in network namespaces, the VIP leaving a node whose HAProxy died.
"""

import json
import os
import shlex
import shutil
import signal
import statistics
import subprocess
import time

import pytest
from brine_testlib import REPO, SaltCall

import brine_inventory
import lb_testbed
from lb_testbed import LbTestbed, lb

SECRETS = {"keepalived_auth": "vrrp-secret", "haproxy_stats_password": "stats-secret"}
CONTROLLERS = ["ubuntu1", "ubuntu2", "ubuntu3"]

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="network namespaces need root"),
    pytest.mark.skipif(not (shutil.which("keepalived") and shutil.which("haproxy")),
                       reason="keepalived and haproxy are installed by scripts/setup-env.sh"),
]


@pytest.fixture
def inv(inventory):
    return brine_inventory.normalise(inventory)


@pytest.fixture
def netns():
    """A network namespace with the given bridges (keepalived -t wants its interfaces to exist)."""
    made = []

    def make(*interfaces, macs=()):
        name = f"lbf{os.getpid() % 100000}x{len(made)}"
        lb_testbed.ip("netns", "add", name)
        made.append(name)
        for iface in interfaces:
            lb_testbed.ip("-n", name, "link", "add", iface, "type", "bridge")
        for iface, mac in macs:
            lb_testbed.ip("-n", name, "link", "add", iface, "address", mac, "type", "bridge")
        return name

    yield make
    for name in made:
        lb_testbed.ip("netns", "del", name, check=False)


# --------------------------------------------------------------------------- the daemons' checks


@pytest.mark.parametrize("vrrp", [{}, {"vrrp_version": 3, "advert_int": 0.3}])
@pytest.mark.parametrize("minion", CONTROLLERS)
def test_every_controllers_keepalived_conf_passes_keepalived_t(inv, netns, tmp_path, minion, vrrp):
    ns = netns(*sorted({i["interface"] for i in lb.vrrp_instances(inv, minion)}))
    conf = tmp_path / "keepalived.conf"
    conf.write_text(lb.keepalived_conf(inv, minion, SECRETS, vrrp))
    proc = subprocess.run(["ip", "netns", "exec", ns, "keepalived", "-t", "-f", str(conf)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("minion", CONTROLLERS)
def test_every_controllers_haproxy_cfg_passes_haproxy_c(inv, tmp_path, minion):
    cfg = tmp_path / "haproxy.cfg"
    inv = lb_testbed.with_placeholder(inv, tmp_path)
    cfg.write_text(lb.haproxy_cfg(inv, minion, {"haproxy_stats_password": "p4ss #word with spaces"}))
    proc = subprocess.run(["haproxy", "-c", "-f", str(cfg)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_keepalived_t_refuses_what_keepalived_would_not_run(inv, netns, tmp_path):
    """The check the state relies on fails for a setting keepalived does not accept."""
    ns = netns("br-eth2.10", "br-eth2.100")
    conf = tmp_path / "keepalived.conf"
    conf.write_text(lb.keepalived_conf(inv, "ubuntu1", SECRETS, {"check_interval": 0}))
    proc = subprocess.run(["ip", "netns", "exec", ns, "keepalived", "-t", "-f", str(conf)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0


# --------------------------------------------------------------------------- the states


def _apply_as_ubuntu1(ns, workdir, pillar, pillar_root=None):
    """state.apply keepalived.config,haproxy.config masterless as ubuntu1 inside namespace
    ``ns`` (which holds ubuntu1's eth2 MAC, so brine_inventory.this_machine is True there) and a
    private mount namespace with tmpfs over every directory the states write."""
    sc = SaltCall(workdir / "salt")
    dirs = ["/etc/keepalived", "/etc/haproxy", "/etc/systemd/system", "/etc/sysctl.d", "/etc/tmpfiles.d",
            "/usr/libexec", "/run"]  # all exist already: nothing is made on the host
    script = [f"mkdir -p {d} && mount -t tmpfs brine-test {d}" for d in dirs]
    script.append("printf 'broken\\n' > /etc/keepalived/keepalived.conf")  # a live file the state replaces
    outs = []
    for run, extra in enumerate(pillar):
        out = workdir / f"out-{run}.json"
        outs.append(out)
        argv = sc.command("state.apply", "keepalived.config,haproxy.config", f"pillar={json.dumps(extra)}",
                          minion_id="ubuntu1", out_file=out, pillar_root=pillar_root)
        script.append(" ".join(shlex.quote(a) for a in argv) + " || true")
        for path in ("/etc/keepalived/keepalived.conf", "/etc/haproxy/haproxy.cfg"):
            script.append(f"sha256sum {path} >> {workdir}/sums-{run} 2>/dev/null || true")
            script.append(f"cp {path} {workdir}/{os.path.basename(path)}-{run} || true")
        script.append(f"stat -c '%n %a %U %G' /etc/keepalived/keepalived.conf /etc/haproxy/haproxy.cfg "
                      f"/usr/libexec/brine/brine-vip-notify /usr/libexec/brine/brine-track-file > {workdir}/stat-{run} 2>&1 || true")
        script.append(f"stat -c '%n %a %U %G' /etc/haproxy/certs /etc/haproxy/certs/external.pem "
                      f"/usr/libexec/brine/brine-cert-deploy > {workdir}/stat-acme-{run} 2>&1 || true")
        script.append(f"sha256sum /etc/haproxy/certs/external.pem > {workdir}/sum-acme-{run} 2>&1 || true")
        script.append(f"cat /etc/systemd/system/haproxy.service.d/brine-keepalived.conf > {workdir}/dropin-{run} 2>&1 || true")
        script.append(f"sysctl -n net.ipv4.ip_nonlocal_bind > {workdir}/sysctl-{run}")
    proc = subprocess.run(["ip", "netns", "exec", ns, "unshare", "--mount", "--propagation", "private", "sh", "-ec",
                           "\n".join(script)], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    results = [json.loads(o.read_text())["local"] if o.exists() else None for o in outs]
    read = lambda name, run: (workdir / f"{name}-{run}").read_text()  # noqa: E731
    return results, read


def test_the_states_install_checked_configs_once_and_refuse_a_bad_one(inventory, netns, tmp_path):
    ns = netns("br-eth2.10", "br-eth2.100", macs=[("eth2", "52:54:00:10:01:02")])
    secrets = {"brine_secrets": SECRETS}
    bad = {"brine_secrets": SECRETS, "brine_settings": {"keepalived": {"check_interval": 0},
                                                        "haproxy": {"timeouts": {"bogus": "5s"}}}}
    (first, second, refused), read = _apply_as_ubuntu1(ns, tmp_path, [secrets, secrets, bad])

    assert first and all(r["result"] is True for r in first.values()), first
    changed = {r["__id__"] for r in first.values() if r["changes"]}
    assert {"keepalived-config", "haproxy-config", "haproxy-dropin", "haproxy-nonlocal-bind",
            "keepalived-notify-script", "haproxy-track-writer"} <= changed
    inv = brine_inventory.normalise(inventory)
    assert read("keepalived.conf", 0) == lb.keepalived_conf(inv, "ubuntu1", SECRETS)
    assert read("haproxy.cfg", 0) == lb.haproxy_cfg(inv, "ubuntu1", SECRETS)
    modes = dict(line.split(" ", 1) for line in read("stat", 0).splitlines())
    assert modes == {"/etc/keepalived/keepalived.conf": "600 root root", "/etc/haproxy/haproxy.cfg": "640 root haproxy",
                     "/usr/libexec/brine/brine-vip-notify": "755 root root",
                     "/usr/libexec/brine/brine-track-file": "755 root root"}
    assert "ExecStopPost=-/usr/libexec/brine/brine-track-file /run/brine-lb/haproxy-down 1" in read("dropin", 0)
    assert read("sysctl", 0).strip() == "1"
    # secrets never in the job's return
    assert "vrrp-secret" not in json.dumps(first) and "stats-secret" not in json.dumps(first)
    assert lb.auth_pass("vrrp-secret") not in json.dumps(first)

    assert all(r["result"] is True for r in second.values()), second
    assert [r["__id__"] for r in second.values() if r["changes"]] == []

    by_id = {r["__id__"]: r for r in refused.values()}
    for sid in ("keepalived-config", "haproxy-config"):
        assert by_id[sid]["result"] is False, by_id[sid]
        assert "check_cmd" in by_id[sid]["comment"] or "check" in by_id[sid]["comment"].lower(), by_id[sid]
    assert read("sums", 2) == read("sums", 0)  # the live files stayed


def test_with_acme_enabled_haproxy_starts_on_a_private_placeholder_and_the_hook_is_installed(inventory, netns,
                                                                                           tmp_path):
    """The inventory's acme:enabled (docs/acme.md): the external VIP's binds serve TLS from a
    self-signed placeholder written once (0600, directory 0700) before `haproxy -c` checks the
    config; certbot's deploy hook is installed; the key is never in the job's return."""
    ns = netns("br-eth2.10", "br-eth2.100", macs=[("eth2", "52:54:00:10:01:02")])
    inventory["acme"] = {"enabled": True}
    pillar_root = SaltCall(tmp_path / "salt").pillar_root_with(inventory)
    secrets = {"brine_secrets": SECRETS}
    (first, second), read = _apply_as_ubuntu1(ns, tmp_path, [secrets, secrets], pillar_root=pillar_root)
    assert first and all(r["result"] is True for r in first.values()), first
    changed = {r["__id__"] for r in first.values() if r["changes"]}
    assert {"haproxy-cert-placeholder", "haproxy-cert-deploy-hook", "haproxy-config"} <= changed
    inv = brine_inventory.normalise(inventory)
    assert read("haproxy.cfg", 0) == lb.haproxy_cfg(inv, "ubuntu1", SECRETS)
    assert "bind 10.100.0.100:5000 ssl crt /etc/haproxy/certs/external.pem" in read("haproxy.cfg", 0)
    assert read("stat-acme", 0).splitlines() == ["/etc/haproxy/certs 700 root root",
                                                  "/etc/haproxy/certs/external.pem 600 root root",
                                                  "/usr/libexec/brine/brine-cert-deploy 755 root root"]
    assert "PRIVATE KEY" not in json.dumps(first) + json.dumps(second)
    assert all(r["result"] is True for r in second.values()), second
    assert [r["__id__"] for r in second.values() if r["changes"]] == []
    assert read("sum-acme", 1) == read("sum-acme", 0)


def test_the_highstate_on_this_host_touches_neither_daemon(salt_call):
    """This CI host is no inventory machine: the controller's load balancer is skipped."""
    out, _ = salt_call("state.show_sls", "keepalived,haproxy", minion_id="ubuntu1")
    assert set(out) == {"brine-inventory-valid", "keepalived-not-this-machine", "haproxy-not-this-machine"}, out


# --------------------------------------------------------------------------- the scripts


def test_notify_leaves_one_message_per_state_change_in_the_outbox(tmp_path):
    outbox = tmp_path / "outbox"
    notify = tmp_path / "notify"
    lb_testbed.write_notify(str(notify), str(outbox))
    for args in (["INSTANCE", "internal", "MASTER", "150"], ["INSTANCE", "external", "FAULT", "148"],
                 ["INSTANCE", "internal", "STOP", "x"]):
        assert subprocess.run([str(notify), *args], timeout=10).returncode == 0
    # hostile or irrelevant calls leave nothing
    for args in (["GROUP", "g", "MASTER", "1"], ["INSTANCE", "internal;reboot", "MASTER", "1"],
                 ["INSTANCE", "$(reboot)", "MASTER", "1"], ["INSTANCE", "internal", "master", "1"],
                 ["INSTANCE", "internal", "MASTER\nx", "1"], ["INSTANCE", "", "MASTER", "1"]):
        assert subprocess.run([str(notify), *args], timeout=10).returncode == 0
    # only root (the writer) can look in; no temporary file is left behind
    assert oct(outbox.stat().st_mode & 0o777) == "0o700"
    assert all(not name.startswith(".") for name in os.listdir(outbox))
    messages = lb_testbed.read_outbox(str(outbox))
    assert [tag for tag, _ in messages] == ["brine/vip/state"] * 3
    assert [(d["vip"], d["state"], d["priority"]) for _, d in messages] == [
        ("internal", "MASTER", 150), ("external", "FAULT", 148), ("internal", "STOP", None)]
    assert all(isinstance(d["timestamp"], float) for _, d in messages)


def test_the_outbox_path_is_quoted(tmp_path):
    odd = tmp_path / "dir with 'quote' $(x)"
    notify = tmp_path / "notify"
    lb_testbed.write_notify(str(notify), str(odd))
    subprocess.run([str(notify), "INSTANCE", "internal", "BACKUP", "149"], check=True, timeout=10)
    assert [d["state"] for _, d in lb_testbed.read_outbox(str(odd))] == ["BACKUP"]
    assert sorted(os.listdir(tmp_path)) == sorted(["notify", "notify-outbox-put", odd.name])


def test_the_track_file_writer(tmp_path):
    track = tmp_path / "sub" / "haproxy-down"
    for value in ("1", "0", "-254"):
        subprocess.run([str(lb_testbed.TRACK_WRITER), str(track), value], check=True, timeout=10)
        assert track.read_text() == value + "\n"
    for value in ("", "1; reboot", "one"):
        proc = subprocess.run([str(lb_testbed.TRACK_WRITER), str(track), value], capture_output=True, timeout=10)
        assert proc.returncode == 2
    assert track.read_text() == "-254\n" and os.listdir(track.parent) == ["haproxy-down"]


# --------------------------------------------------------------------------- failover in namespaces


@pytest.mark.parametrize("vrrp", [{"vrrp_version": 2, "advert_int": 1}, {"vrrp_version": 3, "advert_int": 0.3}],
                         ids=["v2-advert-1s", "v3-advert-0.3s"])
def test_the_vip_leaves_a_node_whose_haproxy_died(inv, capsys, vrrp):
    """Three controllers in namespaces run keepalived and HAProxy with their rendered configs.
    Each trial kills HAProxy (-9) on the internal VIP's holder, then writes the track file as
    the drop-in's ExecStopPost would; a client in the hub connects to VIP:1984 every 20 ms.
    The VIP must move, the node whose HAProxy comes back must not take it back (nopreempt),
    and every state change is a notify call. Times are printed, not asserted."""
    vip = inv["vips"]["internal"]["address"]
    with LbTestbed(inv, SECRETS, keepalived_settings=vrrp) as bed:
        bed.start()
        figures = _failover_trials(bed, vip, 5, lambda n: n.kill_haproxy(), lambda n: n.start_haproxy())
        # every node's state changes reached its notify script: FAULT on the killed ones
        faults = [n.minion_id for n in bed.nodes
                  if any(d["state"] == "FAULT" for _, d in lb_testbed.read_outbox(n.outbox))]
        assert faults, "no FAULT event was sent"
    _print_figures(capsys, f"HAProxy killed on the VIP holder, track file, VRRPv{vrrp['vrrp_version']} "
                           f"advert_int {vrrp['advert_int']}", *figures)


def _failover_trials(bed, vip, trials, fail, recover, settle=3.5):
    """Each trial: the VIP's holder fails (``fail(node)``), a client in the hub connects to
    VIP:1984 every 20 ms; returns the longest client gaps, the failures -> VIP elsewhere times
    and the most holders seen at once. Asserts the VIP moved, and stayed after ``recover(node)``."""
    gaps, moves, most = [], [], 0
    holder = bed.wait_one_holder(vip)
    for trial in range(trials):
        sampler = lb_testbed.HolderSampler(bed, vip)
        sampler.start()
        probe = bed.start_probe(vip, 6.0)
        time.sleep(0.5)
        t_fail = time.time()
        fail(holder)
        new, deadline = None, time.time() + 15
        while time.time() < deadline:
            held = [n for n in bed.holders(vip) if n is not holder]
            if len(held) == 1:
                new = held[0]
                break
            time.sleep(0.01)
        moves.append(time.time() - t_fail)
        assert new is not None, f"trial {trial}: the VIP did not leave {holder.minion_id}: " + holder.log("keepalived.log")
        samples = json.loads(probe.communicate(timeout=30)[0])
        sampler.stop()
        most = max(most, sampler.most)
        gaps.append(lb_testbed.longest_gap(samples, t_fail)[0])
        # Both backups may count the adverts as missing within the same millisecond (advert_int
        # 0.3 s: their skews differ by about 1 ms) and claim the VIP together; the lower priority
        # yields at the next advert. So the new holder is the one that holds it once the probe ended.
        settled = bed.wait_one_holder(vip)
        assert settled is not holder, f"trial {trial}: the VIP came back to {holder.minion_id} before it recovered"
        recover(holder)
        time.sleep(settle)
        after = [n.minion_id for n in bed.holders(vip)]
        assert after == [settled.minion_id], (f"trial {trial}: {settled.minion_id} held the VIP, after "
                                              f"{holder.minion_id} recovered the holders are {after}")
        holder = settled
    return gaps, moves, most


def _print_figures(capsys, title, gaps, moves, most):
    ms = lambda values: "min {:.0f} ms, median {:.0f} ms, max {:.0f} ms".format(  # noqa: E731
        min(values) * 1000, statistics.median(values) * 1000, max(values) * 1000)
    with capsys.disabled():
        print(f"\n{title} ({len(gaps)} trials):")
        print(f"  longest client gap: {ms(gaps)}")
        print(f"  failure -> VIP on another node: {ms(moves)}")
        print(f"  most holders seen in one sample (namespaces sampled one after the other): {most}")


@pytest.mark.parametrize("vrrp", [{"vrrp_version": 2, "advert_int": 1}, {"vrrp_version": 3, "advert_int": 0.3}],
                         ids=["v2-advert-1s", "v3-advert-0.3s"])
def test_the_vip_leaves_a_dead_node(inv, capsys, vrrp):
    """Node death: the holder's keepalived and HAProxy killed and its cables cut at once. The
    others notice the missing adverts (3 x advert_int + skew). Times printed, not asserted."""
    vip = inv["vips"]["internal"]["address"]
    with LbTestbed(inv, SECRETS, keepalived_settings=vrrp) as bed:
        bed.start()
        figures = _failover_trials(bed, vip, 3, lambda n: n.power_off(), lambda n: n.power_on(),
                                   settle=3 * vrrp["advert_int"] + 2)
    _print_figures(capsys, f"node death, VRRPv{vrrp['vrrp_version']} advert_int {vrrp['advert_int']}", *figures)


def test_the_slow_check_moves_the_vip_when_nothing_wrote_the_track_file(inv, capsys):
    """The safety net alone: HAProxy killed, the track file left at 0 (as if its unit had not
    noticed): vrrp_script haproxy_alive (every 2 s, fall 2) gives the VIP away."""
    vip = inv["vips"]["internal"]["address"]

    def kill_quietly(node):
        node.haproxy.send_signal(signal.SIGKILL)
        node.haproxy.wait(timeout=10)

    with LbTestbed(inv, SECRETS) as bed:
        bed.start()
        figures = _failover_trials(bed, vip, 1, kill_quietly, lambda n: n.start_haproxy(), settle=5)
    _print_figures(capsys, "HAProxy killed, track file not written (the vrrp_script safety net)", *figures)
