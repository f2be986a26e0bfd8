"""
Keystone on the controllers in the lab, real daemons behind HAProxy: a token issued through the
internal VIP, or by any controller, validates on every controller (their management addresses,
port 5000), every controller holds the same Fernet and credential keys, and a second
orchestration changes nothing. Figures (failover, rotation) come from
benchmarks/keystone_failover.py; these tests check behaviour.

Tokens are asked for from the bootstrap host as the benchmarks' own Keystone user
(benchmarks/keystone_lab.py: made with an admin token issued inside a controller guest, deleted
at the end). Keystone caches validated tokens in the controllers' shared memcached, so a
validation on another controller may come from that cache: the key digests are the direct
evidence that the keys are the same everywhere.
"""

import pytest
from brine_testlib import wait_for
from brinelib.names import controllers
from controllers import CLIENT
from keystone_lab import (ACCOUNT_FILE, CLIENT_PROBE, base_urls, delete_account, external_url, fetch_pebble_root,
                          key_digests, make_account, orchestration_changes, orchestration_steps, run_client,
                          send_probes)
from lab.core import load_inventory
from lab_testlib import galera_whole

_, INVENTORY = load_inventory()
CONTROLLERS = controllers(INVENTORY)
URLS = base_urls(INVENTORY)
NODES = [URLS[name] for name in CONTROLLERS]


@pytest.fixture(scope="module")
def keystone_lab(controllers_lab):
    """The controllers' lab with the benchmarks' Keystone account (made once Keystone answers:
    an earlier test file may have just recovered Galera under it, or power-cycled a controller
    whose node is still catching up: the database step needs the first controller Synced)."""
    lab = controllers_lab
    if not wait_for(lambda: galera_whole(lab, CONTROLLERS), 600, 5):
        pytest.fail(f"Galera not whole after 600 s: {[lab.exec(h, 'systemctl is-active mariadb').output for h in CONTROLLERS]}")
    send_probes(lab, CLIENT, CLIENT_PROBE)
    failures = []

    def made():
        try:
            return make_account(lab, INVENTORY, CONTROLLERS[0])
        except RuntimeError as exc:
            failures.append(str(exc))
            return None

    password = wait_for(made, 180, 10)
    if not password:
        pytest.fail(f"no Keystone account for the tests: {failures[-1] if failures else 'no attempt'}")
    yield lab
    delete_account(lab, INVENTORY, CONTROLLERS[0], password)


def every_node_valid(answer, issuers):
    return {issuer: {"issued": True, "validated": dict.fromkeys(NODES, 200)} for issuer in issuers} == answer["issuers"]


def test_a_token_issued_through_the_internal_vip_validates_on_every_controller(keystone_lab):
    answer = run_client(keystone_lab, "check", ACCOUNT_FILE, URLS["vip"], ",".join(NODES))
    assert every_node_valid(answer, [URLS["vip"]]), answer


def test_a_token_issued_through_the_external_fqdn_over_https_validates_on_every_controller(keystone_lab):
    # HAProxy ends TLS on the external VIP with the ACME certificate; the client trusts only
    # pebble's root, so the placeholder or a wrong name would fail the request.
    external = external_url(INVENTORY)
    answer = run_client(keystone_lab, "check", ACCOUNT_FILE, external, ",".join(NODES),
                        ca_file=fetch_pebble_root(keystone_lab))
    assert every_node_valid(answer, [external]), answer


def test_a_token_issued_by_one_controller_validates_on_the_other_two(keystone_lab):
    answer = run_client(keystone_lab, "check", ACCOUNT_FILE, ",".join(NODES), ",".join(NODES))
    assert every_node_valid(answer, NODES), answer


def test_every_controller_holds_the_same_keys(keystone_lab):
    digests = key_digests(keystone_lab)
    assert set(digests) == {"fernet", "credential"}
    for kind, nodes in digests.items():
        assert set(nodes) == set(CONTROLLERS), (kind, nodes)
        assert None not in nodes.values() and len(set(nodes.values())) == 1, (kind, nodes)


def test_a_second_orchestration_changes_nothing(keystone_lab):
    out = keystone_lab.salt_run("state.orchestrate", "orch.keystone", timeout=1800)
    steps = orchestration_steps(out)
    detail = out if steps is None else {s.get("__id__"): {"result": s.get("result"), "comment": str(s.get("comment"))[:3000]}
                                        for s in steps.values() if isinstance(s, dict)}
    assert orchestration_changes(out) == [], detail
