"""The host baseline: its inventory schema (brine:baseline) and the pure renderers of
brine_baseline (/etc/hosts, FQDN, sudoers drop-in, authorized_keys)."""

import base64
import copy
import random

import pytest
from inventory_mistakes import mutate

import brine_baseline as bb
import brine_inventory as inv

ED25519 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBZgUM0p4h2TFkRC+XUT6uiPnG19UQYGAD7yT/u4o7O0 operator@lab"
ECDSA = (
    "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBNH/G6BtJMWR9aAE0NY8TJZWGI2y6+Dhh9M"
    "FtCqfGhHcQVz8+QIwoTwWha5i+xrR/fNqtBEnxFxdu258VboHQzg= ec@lab"
)
RSA_2048 = (
    "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQDaPoFt/MSSFluMtQE4y73ZcCPb2YsnGesteA/fzUv1wDSBeygoSvW9F+y2BTY6i32yJhmoyZ6zS"
    "HdbdHRtaMIYm2tV4DoZpd1m9nB8DK2yaPlIcEJaxjTlL+RQBWWXY/y4fH19Ad/+ROEY4bvoEKMpWMMr4PqrO14Pv+ed6abvcdVenxDIfYPNLiAfHYt"
    "1t3KhW16jn3so05uGBCyiCxR2qKt7CJnrD0Cf7ItLWIKaLHu3woFoYZo/PyTY9RCqe7rogY7quWx+zeJmBY4edubG7o/IVPVmoIU9UtBu98FIa7UeD"
    "52FIPMc8zjlCwp4LMhd/A0/c/1mo03RbxaGZQeZ rsa@lab"
)


def _blob(*fields):
    out = b""
    for field in fields:
        field = field.encode() if isinstance(field, str) else field
        out += len(field).to_bytes(4, "big") + field
    return base64.b64encode(out).decode()


def _mpint(value):
    raw = value.to_bytes((value.bit_length() + 8) // 8, "big")
    return raw


@pytest.fixture
def lab(inventory):
    return inv.normalise(inventory)


# --------------------------------------------------------------------------- schema: SSH keys


@pytest.mark.parametrize(
    "line",
    [
        ED25519,
        ECDSA,
        RSA_2048,
        ED25519.rsplit(" ", 1)[0],  # no comment
        ED25519 + " with spaces, and (punctuation)!",
        "  " + ED25519 + "  ",
        "sk-ssh-ed25519@openssh.com " + _blob("sk-ssh-ed25519@openssh.com", b"k" * 32, "ssh:") + " yubikey",
        "sk-ecdsa-sha2-nistp256@openssh.com " + _blob("sk-ecdsa-sha2-nistp256@openssh.com", "nistp256", b"\x04" + b"p" * 64, "ssh:"),
    ],
)
def test_valid_ssh_public_keys(line):
    assert inv.ssh_key_problem(line) is None


@pytest.mark.parametrize(
    "line, words",
    [
        ("-----BEGIN OPENSSH PRIVATE KEY-----", "private key"),
        ('command="/bin/true" ' + ED25519, "options such as command="),
        ("no-pty " + ED25519, "not a key type"),
        (ED25519 + "\n" + ECDSA, "line break"),
        (ED25519 + "\r", "line break"),
        ("ssh-ed25519", "base64 is missing"),
        ("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBrineExampleKeyReplaceMeWithYourOwnPublicKey0 x", "does not decode"),
        ("ssh-ed25519 not*base64", "does not decode"),
        ("ssh-rsa " + ED25519.split()[1], "holds a 'ssh-ed25519' key, the line says ssh-rsa"),
        ("ssh-ed25519 " + _blob("ssh-ed25519", b"k" * 31), "32 bytes"),
        ("ssh-ed25519 " + _blob("ssh-ed25519", b"k" * 32, b"extra"), "does not decode"),
        ("ssh-ed25519 " + base64.b64encode(b"\x00\x00\x00\x0bssh-ed25519\x00\x00\x00\x20abc").decode(), "does not decode"),
        ("ecdsa-sha2-nistp384 " + _blob("ecdsa-sha2-nistp384", "nistp256", b"\x04" + b"p" * 64), "names another curve"),
        ("ssh-rsa " + _blob("ssh-rsa", _mpint(65537), _mpint((1 << 1023) | 1)), "at least 2048 bits"),
        ("ssh-dss " + _blob("ssh-dss", b"p", b"q", b"g", b"y"), "DSA keys are refused"),
        (ED25519.rsplit(" ", 1)[0] + " it's mine", "quotes or backslashes"),
        (ED25519.rsplit(" ", 1)[0] + " back\\slash", "quotes or backslashes"),
        (ED25519.rsplit(" ", 1)[0] + " Jürgen", "printable ASCII"),
        (ED25519.rsplit(" ", 1)[0] + " tab\there", "printable ASCII"),
        (None, "must be a public key line"),
        (42, "must be a public key line"),
    ],
)
def test_invalid_ssh_public_keys(line, words):
    problem = inv.ssh_key_problem(line)
    assert problem and words in problem, problem


# --------------------------------------------------------------------------- schema: user, time zone


@pytest.mark.parametrize("name", ["brine", "ops", "_deploy", "a", "deploy-user_2", "x" * 32])
def test_valid_deployment_users(name):
    assert inv.deploy_user_problem(name) is None


@pytest.mark.parametrize(
    "name, words",
    [
        ("root", "never root"),
        ("daemon", "system account"),
        ("nobody", "system account"),
        ("sudo", "system account"),  # its group would collide
        ("rabbitmq", "system account"),
        ("Brine", "not a user name"),
        ("1brine", "not a user name"),
        ("-brine", "not a user name"),
        ("br ine", "not a user name"),
        ("brine\nALL", "not a user name"),
        ("x" * 33, "not a user name"),
        ("", "not a user name"),
        (None, "not a user name"),
    ],
)
def test_invalid_deployment_users(name, words):
    problem = inv.deploy_user_problem(name)
    assert problem and words in problem, problem


ZONES = {"Etc/UTC", "UTC", "Europe/Berlin", "America/Argentina/Buenos_Aires", "Etc/GMT+5"}


@pytest.mark.parametrize("name", sorted(ZONES))
def test_valid_time_zones(name):
    assert inv.timezone_problem(name, zones=ZONES) is None


@pytest.mark.parametrize("name", ["Etc/UTC", "Europe/Berlin", "America/Argentina/Buenos_Aires", "UTC"])
def test_this_machines_zoneinfo_has_the_usual_zones(name):
    assert inv.timezone_problem(name) is None


@pytest.mark.parametrize(
    "name, words",
    [
        ("Europe/Berlim", "unknown time zone"),
        ("Mars/Olympus", "unknown time zone"),
        ("../../etc/passwd", "not a time zone name"),
        ("/etc/localtime", "not a time zone name"),
        ("Europe/Berlin ", "not a time zone name"),
        ("Europe//Berlin", "not a time zone name"),
        ("Europe/Berlin/Mitte/Nord", "not a time zone name"),
        ("", "not a time zone name"),
        (1, "not a time zone name"),
        (None, "not a time zone name"),
    ],
)
def test_invalid_time_zones(name, words):
    problem = inv.timezone_problem(name, zones=ZONES)
    assert problem and words in problem, problem


def test_without_a_zoneinfo_database_the_pattern_decides():
    assert inv.timezone_problem("Europe/Berlim", zones=frozenset()) is None
    assert "not a time zone name" in inv.timezone_problem("../x", zones=frozenset())


# --------------------------------------------------------------------------- schema: brine:baseline


def errors_of(inventory):
    return [str(e) for e in inv.check(inventory)]


@pytest.mark.parametrize(
    "break_it, expected",
    [
        (lambda i: i["baseline"].update(colour="blue"), "brine:baseline:colour: unknown key"),
        (lambda i: i.update(baseline=["x"]), "brine:baseline: must be a mapping"),
        (lambda i: i["baseline"].update(deploy="brine"), "brine:baseline:deploy: must be a mapping"),
        (lambda i: i["baseline"]["deploy"].update(password="x"), "brine:baseline:deploy:password: unknown key"),
        (lambda i: i["baseline"]["deploy"].update(ssh_keys=[]), "brine:baseline:deploy:ssh_keys: list at least one"),
        (lambda i: i["baseline"]["deploy"].update(ssh_keys=ED25519), "brine:baseline:deploy:ssh_keys: list at least one"),
        (lambda i: i["baseline"]["deploy"].pop("ssh_keys"), "brine:baseline:deploy:ssh_keys: list at least one"),
        (lambda i: i["baseline"]["deploy"]["ssh_keys"].append(ED25519.replace("operator@lab", "again")),
         "brine:baseline:deploy:ssh_keys:1: the same key is already listed at brine:baseline:deploy:ssh_keys:0"),
        (lambda i: i["baseline"]["deploy"].update(sudo=True), "brine:baseline:deploy:sudo: must be a mapping"),
        (lambda i: i["baseline"]["deploy"]["sudo"].update(all=True), "brine:baseline:deploy:sudo:all: unknown key"),
        (lambda i: i["baseline"]["deploy"].update(user="Brine"), "brine:baseline:deploy:user: 'Brine' is not a user name"),
        (lambda i: i["services"]["install"].update(ssh_keys=[ED25519]),
         "brine:services:install:ssh_keys: moved to brine:baseline:deploy:ssh_keys"),
        (lambda i: i["baseline"].update(timezone="../x"), "brine:baseline:timezone: '../x' is not a time zone name"),
        (lambda i: i["vips"]["internal"].update(fqdn="UBUNTU1.lab.home.arpa"),
         "brine:vips:internal:fqdn: 'UBUNTU1.lab.home.arpa' is the FQDN of host 'ubuntu1'"),
        (lambda i: (i["networks"]["management"].update(domain="mgmt.lab"), i["vips"]["internal"].update(fqdn="ubuntu2.mgmt.lab")),
         "brine:vips:internal:fqdn: 'ubuntu2.mgmt.lab' is the FQDN of host 'ubuntu2'"),
    ],
)
def test_each_baseline_mistake_is_one_error(inventory, break_it, expected):
    errors = errors_of(mutate(inventory, break_it))
    assert len(errors) == 1 and errors[0].startswith(expected), errors


def test_the_whole_baseline_is_optional(inventory):
    del inventory["baseline"]
    assert inv.check(inventory) == []
    assert inv.normalise(inventory)["baseline"] == {
        "timezone": "Etc/UTC", "hosts_network": "management", "domain": "lab.home.arpa", "deploy": None}


def test_baseline_settings_fill_defaults(inventory):
    inventory["baseline"] = {"deploy": {"ssh_keys": ["  " + ED25519.replace(" operator", "   operator")]}}
    settings = inv.normalise(inventory)["baseline"]
    assert settings == {
        "timezone": "Etc/UTC",
        "hosts_network": "management",
        "domain": "lab.home.arpa",
        "deploy": {"user": "brine", "ssh_keys": [ED25519], "sudo": {"nopasswd": True}},
    }
    # a normalised inventory gives the same settings again
    assert inv.baseline_settings(inv.normalise(inventory)) == settings


# --------------------------------------------------------------------------- FQDN and /etc/hosts


def test_fqdn_is_hostname_and_the_hosts_networks_domain(lab, inventory):
    assert bb.host_fqdn(lab, "ubuntu1") == "ubuntu1.lab.home.arpa"
    inventory["hosts"]["ubuntu1"]["hostname"] = "ctl1"
    inventory["networks"]["management"]["domain"] = "mgmt.example.org"
    lab = inv.normalise(inventory)
    assert bb.host_fqdn(lab, "ubuntu1") == "ctl1.mgmt.example.org"
    del inventory["domain"]
    del inventory["networks"]["management"]["domain"]
    assert bb.host_fqdn(inv.normalise(inventory), "ubuntu1") == "ctl1.lab.home.arpa"
    inventory["domain"] = "example.net"
    inventory["networks"]["tunnel"]["domain"] = "tun.example.net"
    assert bb.host_fqdn(inv.normalise(inventory), "ubuntu1") == "ctl1.example.net"
    inventory["baseline"]["hosts_network"] = "tunnel"
    assert bb.host_fqdn(inv.normalise(inventory), "ubuntu1") == "ctl1.tun.example.net"


def test_hosts_file_of_the_example_lab(lab):
    assert bb.render_hosts(lab, "ubuntu2") == (
        f"# {bb.HEADER}\n"
        "127.0.0.1\tlocalhost\n"
        "::1\tlocalhost ip6-localhost ip6-loopback\n"
        "ff02::1\tip6-allnodes\n"
        "ff02::2\tip6-allrouters\n"
        "10.10.0.5\tbootstrap.lab.home.arpa bootstrap\n"
        "10.10.0.11\tubuntu1.lab.home.arpa ubuntu1\n"
        "10.10.0.12\tubuntu2.lab.home.arpa ubuntu2\n"
        "10.10.0.13\tubuntu3.lab.home.arpa ubuntu3\n"
        "10.10.0.100\tinternal.lab.home.arpa\n"
        "10.100.0.100\tcloud.lab.home.arpa\n"
    )


def test_every_host_gets_the_same_lines_when_it_has_an_address(lab):
    texts = {bb.render_hosts(lab, host) for host in lab["hosts"]}
    assert len(texts) == 1
    assert "127.0.1.1" not in texts.pop()


def test_order_does_not_depend_on_the_inventorys_order(inventory):
    expected = bb.render_hosts(inv.normalise(inventory), "ubuntu1")
    rng = random.Random(7)
    for _ in range(5):
        shuffled = copy.deepcopy(inventory)
        items = list(shuffled["hosts"].items())
        rng.shuffle(items)
        shuffled["hosts"] = dict(items)
        shuffled["vips"] = dict(reversed(list(shuffled["vips"].items())))
        assert bb.render_hosts(inv.normalise(shuffled), "ubuntu1") == expected


def test_hosts_sort_by_address_value_not_text(inventory):
    inventory["hosts"]["ubuntu1"]["networks"]["management"]["address"] = "10.10.0.100"
    inventory["vips"]["internal"]["address"] = "10.10.0.9"
    entries = bb.hosts_entries(inv.normalise(inventory), "ubuntu1")
    assert [a for a, _ in entries[4:]] == ["10.10.0.5", "10.10.0.12", "10.10.0.13", "10.10.0.100", "10.10.0.9", "10.100.0.100"]


def test_a_host_without_an_address_on_the_hosts_network(inventory):
    # A controller needs a management address (Galera binds to it): ubuntu1 stays the only one.
    for name in ("ubuntu2", "ubuntu3"):
        inventory["hosts"][name]["roles"] = ["compute", "storage"]
    del inventory["hosts"]["ubuntu3"]["networks"]["management"]
    lab = inv.normalise(inventory)
    others = bb.hosts_entries(lab, "ubuntu1")
    assert not any("ubuntu3" in names for _, names in others)
    own = bb.hosts_entries(lab, "ubuntu3")
    assert ("127.0.1.1", ["ubuntu3.lab.home.arpa", "ubuntu3"]) in own
    assert [a for a, _ in own].index("127.0.1.1") == 4  # right after Debian's loopback lines


def test_the_hosts_network_can_be_another_network(inventory):
    inventory["baseline"]["hosts_network"] = "tunnel"
    lab = inv.normalise(inventory)
    entries = dict(bb.hosts_entries(lab, "ubuntu1"))
    assert entries["10.200.0.11"] == ["ubuntu1.lab.home.arpa", "ubuntu1"]
    assert "10.10.0.11" not in entries
    # the bootstrap host is not on the tunnel network: only its own file names it, on 127.0.1.1
    assert dict(bb.hosts_entries(lab, "bootstrap"))["127.0.1.1"] == ["bootstrap.lab.home.arpa", "bootstrap"]


def test_vips_without_an_fqdn_are_left_out(inventory):
    del inventory["vips"]["external"]["fqdn"]
    del inventory["acme"]  # a certificate needs the FQDN
    entries = dict(bb.hosts_entries(inv.normalise(inventory), "ubuntu1"))
    assert "10.100.0.100" not in entries and entries["10.10.0.100"] == ["internal.lab.home.arpa"]


def test_ipv6_addresses_follow_ipv4(inventory):
    inventory["networks"]["v6"] = {"cidr": "fd00:10::/64"}
    for idx, host in enumerate(["ubuntu1", "ubuntu2"], start=1):
        inventory["hosts"][host]["networks"]["v6"] = {"address": f"fd00:10::{idx}", "nic": "eth2"}
    inventory["baseline"]["hosts_network"] = "v6"
    entries = bb.hosts_entries(inv.normalise(inventory), "ubuntu1")
    assert [a for a, _ in entries[4:]] == ["fd00:10::1", "fd00:10::2", "10.10.0.100", "10.100.0.100"]


# --------------------------------------------------------------------------- sudoers and keys


@pytest.mark.parametrize("nopasswd, rule", [(True, "brine ALL=(ALL:ALL) NOPASSWD: ALL"), (False, "brine ALL=(ALL:ALL) ALL")])
def test_sudoers_rule(nopasswd, rule):
    assert bb.sudoers_rule("brine", nopasswd) == rule


@pytest.mark.parametrize("user", ["root", "brine ALL=(ALL) ALL\n%users", "", None])
def test_sudoers_rule_refuses_what_the_checker_refuses(user):
    with pytest.raises(ValueError):
        bb.sudoers_rule(user)


def test_sudoers_drop_in_holds_only_the_deployment_users_rule(lab):
    text = bb.render_sudoers(lab["baseline"]["deploy"])
    assert text.endswith("\n")
    rules = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert rules == ["brine ALL=(ALL:ALL) NOPASSWD: ALL"]
    assert "Defaults" not in "\n".join(rules)


def test_authorized_keys_are_exactly_the_inventorys(inventory):
    inventory["baseline"]["deploy"]["ssh_keys"] = [ECDSA, ED25519]
    deploy = inv.normalise(inventory)["baseline"]["deploy"]
    lines = bb.render_authorized_keys(deploy).splitlines()
    assert lines[0].startswith("# ") and lines[1:] == [ECDSA, ED25519]


# --------------------------------------------------------------------------- the plan


def test_plan_of_a_host(lab):
    plan = bb.plan(lab, "ubuntu3")
    assert {k: plan[k] for k in ("minion_id", "hostname", "fqdn", "timezone", "hosts_network")} == {
        "minion_id": "ubuntu3", "hostname": "ubuntu3", "fqdn": "ubuntu3.lab.home.arpa",
        "timezone": "Etc/UTC", "hosts_network": "management",
    }
    assert plan["hosts"] == bb.render_hosts(lab, "ubuntu3")
    deploy = plan["deploy"]
    assert (deploy["user"], deploy["home"], deploy["shell"], deploy["sudoers_file"]) == (
        "brine", "/home/brine", "/bin/bash", "/etc/sudoers.d/brine-deploy")
    assert deploy["sudoers"] == bb.render_sudoers(lab["baseline"]["deploy"])
    assert deploy["authorized_keys"].splitlines()[1:] == [ED25519]


def test_plan_without_a_deployment_user(inventory):
    del inventory["baseline"]["deploy"]
    assert bb.plan(inv.normalise(inventory), "ubuntu1")["deploy"] is None


def test_plan_of_an_unknown_minion(lab):
    with pytest.raises(ValueError, match="'ubuntu9' is not an inventory host"):
        bb.plan(lab, "ubuntu9")


def test_settings_from_a_given_inventory(inventory):
    assert bb.settings("ubuntu1", inventory=inventory) == bb.plan(inv.normalise(inventory), "ubuntu1")
