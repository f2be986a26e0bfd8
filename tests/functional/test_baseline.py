"""
The host baseline against the real tools: visudo judges the sudoers drop-in, getent resolves
through the rendered /etc/hosts, ssh-keygen reads the keys the checker accepts; and the baseline
states applied by salt-call on a sandboxed machine that owns ubuntu2's NIC (tests/baseline_sandbox.py:
network, mount and UTS namespaces, /etc and /var overlaid, /home a tmpfs): test mode tells the
truth, a second apply changes nothing, a drop-in visudo refuses never replaces the live one.
Nothing of this host changes.
"""

import subprocess

import pytest
from baseline_sandbox import run_as_host
from brine_testlib import example_inventory
from inventory_mistakes import mutate

import brine_baseline as bb
import brine_inventory as inv

VISUDO = "/usr/sbin/visudo"
UBUNTU2_MAC = "52:54:00:10:02:02"


def visudo_check(path):
    return subprocess.run([VISUDO, "-c", "-f", str(path)], capture_output=True, text=True, timeout=30)


@pytest.fixture
def lab():
    return inv.normalise(example_inventory())


# --------------------------------------------------------------------------- the rendered texts


@pytest.mark.parametrize("nopasswd", [True, False])
def test_visudo_accepts_the_rendered_drop_in(lab, tmp_path, nopasswd):
    deploy = {**lab["baseline"]["deploy"], "sudo": {"nopasswd": nopasswd}}
    path = tmp_path / "brine-deploy"
    path.write_text(bb.render_sudoers(deploy))
    path.chmod(0o440)
    proc = visudo_check(path)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("text", ["brine ALL=(ALL:ALL NOPASSWD: ALL\n", "Defaults:brine !bogus_option\n", "brine ALL\n"])
def test_visudo_refuses_a_broken_drop_in(tmp_path, text):
    path = tmp_path / "broken"
    path.write_text(text)
    assert visudo_check(path).returncode != 0


@pytest.mark.parametrize("minion_id", sorted(example_inventory()["hosts"]))
def test_every_host_and_vip_resolves_through_the_rendered_hosts_file(lab, tmp_path, minion_id):
    hosts = tmp_path / "hosts"
    hosts.write_text(bb.render_hosts(lab, minion_id))
    wanted = {}
    for other, host in lab["hosts"].items():
        address = host["networks"]["management"]["address"]
        wanted[bb.host_fqdn(lab, other)] = address
        wanted[host["hostname"]] = address
    for vip in lab["vips"].values():
        wanted[vip["fqdn"]] = vip["address"]
    wanted["localhost"] = "127.0.0.1"
    script = f"mount --bind {hosts} /etc/hosts\n" + "\n".join(
        f"getent ahostsv4 -s files {name} | head -n1 | cut -d' ' -f1" if name == "localhost"
        else f"getent hosts -s files {name}"
        for name in wanted
    )
    proc = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-ec", script],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == len(wanted), proc.stdout
    for (name, address), line in zip(wanted.items(), lines):
        assert line.split()[0] == address, (name, line)
        if name != "localhost":
            assert name in line.split()[1:], (name, line)
    # The host's own name is its FQDN first (what `hostname -f` answers).
    own = next(line for line in lines if line.split()[0] == lab["hosts"][minion_id]["networks"]["management"]["address"])
    assert own.split()[1] == bb.host_fqdn(lab, minion_id)


def test_ssh_keygen_reads_every_key_the_checker_accepts(tmp_path):
    keys = [
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBZgUM0p4h2TFkRC+XUT6uiPnG19UQYGAD7yT/u4o7O0 operator@lab",
        "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBNH/G6BtJMWR9aAE0NY8TJZWGI2y6+Dhh9MFtCqfGhHcQVz8+QIwoTwWha5i+xrR/fNqtBEnxFxdu258VboHQzg= ec@lab",
    ]
    refused = ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBrineExampleKeyReplaceMeWithYourOwnPublicKey0 operator@lab"]
    for idx, key in enumerate(keys + refused):
        path = tmp_path / f"key{idx}.pub"
        path.write_text(key + "\n")
        proc = subprocess.run(["ssh-keygen", "-l", "-f", str(path)], capture_output=True, text=True, timeout=30)
        accepted = inv.ssh_key_problem(key) is None
        assert accepted == (key in keys)
        assert (proc.returncode == 0) == accepted, (key, proc.stdout, proc.stderr)


# --------------------------------------------------------------------------- the states, applied


SANDBOX_CHECKS = [
    "hostname",
    "hostname -f",
    "cat /etc/hostname",
    "getent hosts -s files ubuntu1 ubuntu3.lab.home.arpa internal.lab.home.arpa cloud.lab.home.arpa",
    "readlink /etc/localtime; cat /etc/timezone",
    "stat -c '%n %a %U %G' /etc/sudoers.d/brine-deploy /home/brine/.ssh /home/brine/.ssh/authorized_keys /etc/hosts",
    "getent passwd brine",
    "visudo -c",
    "sudo -l -U brine",
    "cat /etc/sudoers.d/brine-deploy",
]
BROKEN_DROP_IN = [
    "state.single", "file.managed", "name=/etc/sudoers.d/brine-deploy",
    "contents=brine ALL=(ALL:ALL NOPASSWD: ALL", "mode=0440", "check_cmd=/usr/sbin/visudo -c -f",
]


@pytest.fixture(scope="module")
def applied(tmp_path_factory):
    """On ubuntu2's machine: baseline in test mode, applied twice, checks, a broken drop-in."""
    from brine_testlib import SaltCall

    workdir = tmp_path_factory.mktemp("baseline")
    salt_call = SaltCall(workdir / "salt")
    calls = [["state.show_sls", "baseline"], ["state.apply", "baseline", "test=True"],
             ["state.apply", "baseline"], ["state.apply", "baseline"]]
    calls += SANDBOX_CHECKS + [BROKEN_DROP_IN, "cat /etc/sudoers.d/brine-deploy", "hostname"]
    outs = run_as_host(salt_call, "ubuntu2", UBUNTU2_MAC, calls, workdir)
    show, test, first, second = outs[:4]
    checks = dict(zip(SANDBOX_CHECKS, outs[4:4 + len(SANDBOX_CHECKS)]))
    broken, after, host_name = outs[4 + len(SANDBOX_CHECKS):]
    return {"show": show, "test": test, "first": first, "second": second, "checks": checks,
            "broken": broken, "after": after, "host_name": host_name}


def _changed(results):
    return {r["__id__"] for r in results.values() if r["changes"]}


def test_the_states_apply_and_a_second_apply_changes_nothing(applied):
    first, second = applied["first"], applied["second"]
    assert all(r["result"] is True for r in first.values()), [r["comment"] for r in first.values() if r["result"] is not True]
    assert {"brine-baseline-hostname", "brine-baseline-hostname-file", "brine-baseline-hosts",
            "brine-baseline-deploy-user", "brine-baseline-deploy-authorized-keys", "brine-baseline-sudoers"} <= _changed(first)
    assert all(r["result"] is True for r in second.values()), second
    assert _changed(second) == set()


def test_test_mode_predicts_exactly_what_the_first_apply_changes(applied):
    test, first = applied["test"], applied["first"]
    assert all(r["result"] in (True, None) for r in test.values()), test
    predicted = {r["__id__"] for r in test.values() if r["result"] is None or r["changes"]}
    assert predicted == _changed(first)


def test_the_host_has_its_name_fqdn_hosts_and_time_zone(applied):
    checks = applied["checks"]
    assert all(c["retcode"] == 0 for c in checks.values()), checks
    assert checks["hostname"]["stdout"].strip() == "ubuntu2"
    assert checks["hostname -f"]["stdout"].strip() == "ubuntu2.lab.home.arpa"
    assert checks["cat /etc/hostname"]["stdout"] == "ubuntu2\n"
    resolved = [line.split() for line in checks[SANDBOX_CHECKS[3]]["stdout"].splitlines()]
    assert [r[0] for r in resolved] == ["10.10.0.11", "10.10.0.13", "10.10.0.100", "10.100.0.100"]
    assert checks[SANDBOX_CHECKS[4]]["stdout"] == "/usr/share/zoneinfo/Etc/UTC\nEtc/UTC\n"


def test_the_deployment_user_has_its_keys_and_only_its_sudo_rule(applied):
    checks = applied["checks"]
    modes = checks[SANDBOX_CHECKS[5]]["stdout"].splitlines()
    assert modes == [
        "/etc/sudoers.d/brine-deploy 440 root root",
        "/home/brine/.ssh 700 brine brine",
        "/home/brine/.ssh/authorized_keys 600 brine brine",
        "/etc/hosts 644 root root",
    ]
    assert checks["getent passwd brine"]["stdout"].split(":")[5:] == ["/home/brine", "/bin/bash\n"]
    assert "(ALL : ALL) NOPASSWD: ALL" in checks["sudo -l -U brine"]["stdout"]
    assert not any(line.startswith("Defaults") for line in checks["cat /etc/sudoers.d/brine-deploy"]["stdout"].splitlines())


def test_the_sudoers_state_checks_with_visudo_and_a_refused_drop_in_leaves_the_live_one(applied):
    state = applied["show"]["brine-baseline-sudoers"]["file"]
    assert {"check_cmd": "/usr/sbin/visudo -c -f"} in state and {"mode": "0440"} in state
    (broken,) = applied["broken"].values()
    assert broken["result"] is False and "check_cmd execution failed" in broken["comment"]
    assert applied["after"]["stdout"] == applied["checks"]["cat /etc/sudoers.d/brine-deploy"]["stdout"]
    assert "brine ALL=(ALL:ALL) NOPASSWD: ALL" in applied["after"]["stdout"]


def test_without_a_deployment_user_the_drop_in_goes_and_no_user_is_made(tmp_path):
    from brine_testlib import SaltCall

    salt_call = SaltCall(tmp_path / "salt")
    pillar_root = salt_call.pillar_root_with(mutate(example_inventory(), lambda i: i["baseline"].pop("deploy")))
    # The bootstrap host's preseed needs the user; ubuntu2's baseline does not.
    show, = run_as_host(salt_call, "ubuntu2", UBUNTU2_MAC, [["state.show_sls", "baseline"]], tmp_path, pillar_root=pillar_root)
    assert show["brine-baseline-sudoers"]["file"][-1] == "absent" or "absent" in show["brine-baseline-sudoers"]["file"]
    assert not any(sid.startswith("brine-baseline-deploy") for sid in show)


def test_a_new_time_zone_is_linked_and_named_then_left_alone(tmp_path):
    from brine_testlib import SaltCall

    salt_call = SaltCall(tmp_path / "salt")
    pillar_root = salt_call.pillar_root_with(mutate(example_inventory(), lambda i: i["baseline"].update(timezone="Europe/Berlin")))
    calls = [["state.apply", "baseline.timezone"], ["state.apply", "baseline.timezone"],
             "readlink /etc/localtime; cat /etc/timezone; env -u TZ date -d '2026-07-01 12:00 UTC' +%H:%Z"]
    first, second, check = run_as_host(salt_call, "ubuntu2", UBUNTU2_MAC, calls, tmp_path, pillar_root=pillar_root)
    assert _changed(first) == {"brine-baseline-localtime", "brine-baseline-timezone-file"}, first
    assert _changed(second) == set() and all(r["result"] is True for r in second.values())
    assert check["stdout"] == "/usr/share/zoneinfo/Europe/Berlin\nEurope/Berlin\n14:CEST\n"
