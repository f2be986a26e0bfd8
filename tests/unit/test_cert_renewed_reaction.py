"""The master's reaction to brine/cert/renewed (brinelib.decisions.decide_cert_renewed and
cert_reaction): only the inventory's ACME runner, for the external VIP's FQDN, with a hex serial
and a SHA-256 fingerprint, has the other controllers apply haproxy.cert_sync; every other event
is refused and recorded (docs/acme.md)."""

import pytest
from events_keys import signed

from brinelib import decisions
from brinelib.events import Rejected

T = 1_700_000_000.0
TAG = "brine/cert/renewed"
FINGERPRINT = "ab" * 32


@pytest.fixture
def inv(acme_inventory):
    return acme_inventory


def renewed(minion="ubuntu1", **changes):
    payload = {"fqdn": "cloud.lab.home.arpa", "serial": "1A2B", "fingerprint": FINGERPRINT}
    payload.update(changes)
    return {"id": minion, "cmd": "_minion_event", "tag": TAG, "data": payload}


@pytest.fixture
def react(tmp_path, inv):
    def call(data, received=T, inventory=None, sign=True):
        opts = {"cachedir": str(tmp_path)}
        data = signed(tmp_path, TAG, data, received) if sign else data
        return decisions.cert_reaction(TAG, data, inv if inventory is None else inventory, opts, received=received)
    return call


def entry_of(high):
    return high["brine-record"]["runner.brine.record"][0]["args"][0]["entry"]


def test_the_runners_renewal_has_every_other_controller_apply_cert_sync(react):
    high = react(renewed())
    assert list(high) == ["brine-0-state.apply", "brine-record"]
    assert high["brine-0-state.apply"] == {"local.state.apply": [
        {"tgt": ["ubuntu2", "ubuntu3"]}, {"tgt_type": "list"},
        {"args": [{"mods": "haproxy.cert_sync"}, {"queue": True}]}]}
    entry = entry_of(high)
    assert entry["minion"] == "ubuntu1" and entry["tag"] == TAG
    assert entry["event"] == {"fqdn": "cloud.lab.home.arpa", "serial": "1A2B", "fingerprint": FINGERPRINT}
    assert entry["actions"] == [{"fun": "state.apply", "kwargs": {"mods": "haproxy.cert_sync", "queue": True},
                                 "targets": ["ubuntu2", "ubuntu3"]}]


def test_a_named_runner_is_the_only_sender_and_the_first_controller_a_target(react, inv):
    inv["acme"]["runner"] = "ubuntu2"
    assert entry_of(react(renewed()))["rejected"]
    high = react(renewed("ubuntu2"))
    assert high["brine-0-state.apply"]["local.state.apply"][0] == {"tgt": ["ubuntu1", "ubuntu3"]}


def test_a_single_controller_is_only_recorded(react, inv):
    for mid in ("ubuntu2", "ubuntu3"):
        inv["hosts"].pop(mid)
    high = react(renewed())
    assert list(high) == ["brine-record"] and entry_of(high)["actions"] == []


@pytest.mark.parametrize("minion", ["ubuntu2", "ubuntu3", "compute9", "bootstrap", "stranger"])
def test_a_renewal_from_any_other_minion_is_refused_and_recorded(react, minion):
    high = react(renewed(minion))
    assert list(high) == ["brine-record"]
    assert "is not the ACME runner (ubuntu1)" in entry_of(high)["rejected"]


@pytest.mark.parametrize("why, data, words", [
    ("another FQDN", renewed(fqdn="evil.example"), "is not the external VIP's"),
    ("no FQDN", renewed(fqdn=None), "is not the external VIP's"),
    ("lower-case serial", renewed(serial="1a2b"), "upper-case hex"),
    ("serial too long", renewed(serial="A" * 41), "upper-case hex"),
    ("serial not hex", renewed(serial="12G4"), "upper-case hex"),
    ("serial a number", renewed(serial=6699), "upper-case hex"),
    ("empty serial", renewed(serial=""), "upper-case hex"),
    ("fingerprint with colons", renewed(fingerprint=":".join(["AB"] * 32)), "SHA-256 fingerprint"),
    ("short fingerprint", renewed(fingerprint="ab" * 31), "SHA-256 fingerprint"),
    ("fingerprint a list", renewed(fingerprint=[FINGERPRINT]), "SHA-256 fingerprint"),
    ("the key in the event", renewed(pem="-----BEGIN PRIVATE KEY-----"), "unexpected"),
    ("a target named", renewed(targets=["ubuntu2"]), "unexpected"),
    ("claims another minion", renewed(id="ubuntu2"), "claims to be about another minion"),
])
def test_hostile_payloads_are_refused_and_recorded(react, why, data, words):
    high = react(data)
    assert list(high) == ["brine-record"], why
    entry = entry_of(high)
    assert words in entry["rejected"], (why, entry["rejected"])
    assert "BEGIN PRIVATE KEY" not in repr(high)


def test_unsigned_forged_and_replayed_renewals_are_refused(react, tmp_path, inv):
    assert "unsigned" in entry_of(react(renewed(), sign=False))["rejected"]
    forged = signed(tmp_path, TAG, renewed(), T, key="0" * 64)
    assert "bad signature" in entry_of(decisions.cert_reaction(TAG, forged, inv, {"cachedir": str(tmp_path)},
                                                               received=T))["rejected"]
    once = signed(tmp_path, TAG, renewed(), T)
    assert "brine-0-state.apply" in decisions.cert_reaction(TAG, once, inv, {"cachedir": str(tmp_path)}, received=T)
    again = decisions.cert_reaction(TAG, once, inv, {"cachedir": str(tmp_path)}, received=T + 1)
    assert list(again) == ["brine-record"] and entry_of(again)["rejected"]


@pytest.mark.parametrize("other", [{}, {"hosts": {}}, "not a mapping"])
def test_without_an_acme_inventory_nothing_runs(react, other):
    high = react(renewed(), inventory=other)
    assert list(high) == ["brine-record"] and "no ACME certificate" in entry_of(high)["rejected"]


def test_acme_disabled_refuses(react, inv):
    inv["acme"]["enabled"] = False
    assert "no ACME certificate" in entry_of(react(renewed()))["rejected"]


def test_another_tag_is_refused(inv):
    with pytest.raises(Rejected, match="unexpected tag"):
        decisions.decide_cert_renewed("brine/cert/other", renewed(), inv)
