#!py
"""
Reactor for brine/cert/renewed, sent by the ACME runner's deploy hook after it installed a
certificate and pushed it to the master (salt/haproxy/files/brine-cert-deploy.jinja).

Nothing is decided here: brinelib.decisions.cert_reaction() checks the signed event against the
inventory while this renders (only the ACME runner, the external VIP's FQDN) and has every other
controller apply haproxy.cert_sync; a refusal is recorded for salt-run brine.events. See docs/acme.md.
"""
import salt.loader as salt_loader


def run():
    # _utils/brine_reactor.py: how every Brine render on the master reaches brinelib.
    cert_reaction = salt_loader.utils(__opts__)["brine_reactor.cert_reaction"]
    return cert_reaction(tag, data, __opts__)
