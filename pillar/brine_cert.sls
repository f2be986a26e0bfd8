#!py
"""
brine_cert: the external VIP's ACME certificate (combined PEM: chain and key) for the controllers
other than the ACME runner (docs/acme.md), read from what the runner's deploy hook pushed into
the master's cache (brinelib.certsync.pillar). Pillar goes to that minion only; every other
minion (the runner, compute, bootstrap, unknown) gets nothing.
"""
import salt.loader as salt_loader


def run():
    if __opts__.get("__role") != "master":
        return {}  # masterless (salt-call --local): no master cache; the caller's pillar supplies it
    # _utils/brine_reactor.py: how every Brine render on the master reaches brinelib.
    return salt_loader.utils(__opts__)["brine_reactor.cert_pillar"](__opts__, saltenv)
