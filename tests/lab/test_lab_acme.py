"""
The external VIP's ACME certificate in the lab (docs/acme.md): pebble on the bootstrap host, the
first controller's certbot, every controller's HAProxy. After the converge every controller
serves the runner's certificate (not the placeholder); a forced renewal on the runner reaches
every controller through the deploy hook, the master's reactor and haproxy.cert_sync. The 60 s
figure comes from benchmarks/acme_renewal.py; this checks behaviour.
"""

from acme_lab import force_renewal, lineage_serial, served_serial, settings, wait_served
from brinelib.names import controllers
from lab.core import load_inventory

_, INVENTORY = load_inventory()


def test_every_controller_serves_the_runners_acme_certificate(controllers_lab):
    serial = lineage_serial(controllers_lab, INVENTORY)
    seconds, seen = wait_served(controllers_lab, INVENTORY, serial, timeout=120)
    assert seconds is not None, f"lineage serial {serial:x}, served: {seen}"
    assert set(seen) == set(controllers(INVENTORY))


def test_a_forced_renewal_reaches_every_controller(controllers_lab):
    crt = settings(INVENTORY)["crt"]
    before = served_serial(controllers_lab, controllers(INVENTORY)[0], crt)
    renewed = force_renewal(controllers_lab, INVENTORY)
    assert renewed != before
    seconds, seen = wait_served(controllers_lab, INVENTORY, renewed)
    assert seconds is not None, f"renewed serial {renewed:x}, served: {seen}"
    print(f"\nrenewal served by every controller {seconds:.1f} s after certbot ended")
