"""
A master and minions set up for the event tests and the latency benchmark: the shipped
etc/master (reactors, runner) serving stand-in states, minions running Brine's link and file
watchers against veth pairs in network namespaces (tests/events_netns.py).

Stand-ins, for what cannot run on this host (the tests only check that the reactor reached it;
the real modules are proven by their own tests, on UML kernels and real daemons):

* ``dualbond`` execution module (``reselect_primary``, ``loop_guard``): records each call in a
  JSON-lines file instead of touching a bond: this host's kernel has no bonding. A call made by
  a job from the master records its ``jid``; one made by the link engine in its own process has
  none. ``fail_next_reselect`` makes the next ``reselect_primary`` calls raise.
* ``dhcp_reservations.discover``: reads ``<mac> <ip>`` lines from the log it is given, so the
  test controls exactly which MACs "asked" without running a DHCP server here.
* the ``compute.console`` state (ID ``brine-nova-console``): always a stand-in here, because the
  real one manages the host's own nova.conf; this one puts the ``[vnc]`` lines back into the
  test's temporary nova.conf with ``ini.options_present``.
* ``top.sls``: a probe that writes a marker file, so the highstate a starting minion gets
  changes nothing on this host.
"""

import json
from pathlib import Path

import yaml
import brine_testlib
from brine_testlib import REPO

DUALBOND_STANDIN = '''"""Test stand-in for the dualbond module: records each call (and the job's jid, if any)."""
import json
import os
import time


def _record(fun, jid=None, **kwargs):
    with open(__opts__["brine_test_calls"], "a", encoding="utf-8") as fh:
        fh.write(json.dumps({"fun": fun, "time": time.time(), "jid": jid, "kwargs": kwargs}) + "\\n")
    return True


def reselect_primary(bond=None, the_plan=None, **pub):
    # Salt passes the job's __pub_* data to a function taking **kwargs; a direct call (the
    # engine's) has none.
    _record("reselect_primary", jid=pub.get("__pub_jid"), bond=bond, the_plan=the_plan)
    fail = __opts__["brine_test_calls"] + ".fail"
    if os.path.exists(fail):
        with open(fail, encoding="utf-8") as fh:
            left = int(fh.read()) - 1
        if left:
            with open(fail, "w", encoding="utf-8") as fh:
                fh.write(str(left))
        else:
            os.remove(fail)
        raise RuntimeError("stand-in reselect failure (test)")
    return [f"{bond or 'each bond'}: active member is now the stand-in's"]


def loop_guard(**pub):
    return _record("loop_guard", jid=pub.get("__pub_jid"))
'''

DHCP_STANDIN = '''"""Test stand-in for dhcp_reservations.discover (being written in parallel)."""


def discover(log_path=None, server=None, inventory=None):
    seen = {}
    with open(log_path, encoding="utf-8") as fh:
        for line in fh:
            mac, ip = line.split()
            entry = seen.setdefault(mac, {"mac": mac, "ip": ip, "interface": "eth0", "count": 0,
                                          "first_seen": "t0", "last_seen": "t0"})
            entry["count"] += 1
    return list(seen.values())
'''

CONSOLE_STANDIN = """{#- Test stand-in for the nova engineer's compute.console (VNC console settings). #}
brine-nova-console:
  ini.options_present:
    - name: {{ salt['config.get']('brine_test_nova_conf') }}
    - sections:
        vnc:
          enabled: 'true'
          server_listen: 0.0.0.0
"""

TOP_STANDIN = """base:
  '*':
    - brine_probe
"""

PROBE_STANDIN = """brine-probe-highstate:
  file.managed:
    - name: {{ salt['config.get']('brine_test_marker') }}
    - contents: highstate
"""

HOSTILE_STANDIN = '''"""A hostile minion's tool: sends the master a beacon-style list of events whose data
(the id included) it wrote itself, as a compromised minion can."""
import salt.channel.client
import salt.crypt


def forge(events):
    tok = salt.crypt.SAuth(__opts__).gen_token(b"salt")
    load = {"id": __opts__["id"], "cmd": "_minion_event", "tok": tok, "events": events}
    with salt.channel.client.ReqChannel.factory(__opts__) as channel:
        return channel.send(load, timeout=60)
'''

NOVA_CONF_WITH_VNC = "[DEFAULT]\ndebug = false\n\n[vnc]\nenabled = true\nserver_listen = 0.0.0.0\n"
NOVA_CONF_WITHOUT_VNC = "[DEFAULT]\ndebug = true\n"


def build_tree(root):
    """Stand-in modules under ``root/ext`` and states under ``root/states``."""
    root = Path(root)
    modules = root / "ext" / "_modules"
    modules.mkdir(parents=True, exist_ok=True)
    (modules / "dualbond.py").write_text(DUALBOND_STANDIN)
    (modules / "dhcp_reservations.py").write_text(DHCP_STANDIN)
    (modules / "hostile.py").write_text(HOSTILE_STANDIN)
    states = root / "states"
    (states / "compute").mkdir(parents=True, exist_ok=True)
    (states / "compute" / "console.sls").write_text(CONSOLE_STANDIN)
    (states / "top.sls").write_text(TOP_STANDIN)
    (states / "brine_probe.sls").write_text(PROBE_STANDIN)
    # The checkout's reactors and extensions, without the rest of the checkout: a file root
    # holding .venv makes every fileserver listing (each highstate syncs) take minutes.
    checkout = root / "checkout"
    checkout.mkdir(exist_ok=True)
    for name in ("reactor", "_modules", "_states", "_grains", "_engines", "_beacons", "_runners", "_utils"):
        if (REPO / name).exists() and not (checkout / name).exists():
            (checkout / name).symlink_to(REPO / name)
    return root


def master_overrides(root, highstate_on_start=True):
    """The shipped etc/master, serving the stand-in states first and the checkout for reactors."""
    config = yaml.safe_load((REPO / "etc" / "master").read_text().replace("/srv/brine", str(REPO)))
    config.update(
        interface="127.0.0.1",
        # Loopback-only, one-session master: pytest-salt-factories' own key acceptance (a
        # salt-key run racing the minion's first auth) proved flaky on a loaded host.
        auto_accept=True,
        log_level_logfile="info",
        file_roots={"base": [str(Path(root) / "states"), str(Path(root) / "checkout")]},
        brine_highstate_on_start=highstate_on_start,
    )
    return config


def minion_overrides(root, minion_id, engines=None, beacons=None, events_key=None):
    """A minion loading the checkout's extensions (and the stand-ins) straight from disk, with
    ``events_key`` (what the highstate writes from its pillar) to sign its events and its start."""
    root = Path(root)
    work = root / minion_id
    work.mkdir(parents=True, exist_ok=True)
    config = {
        "master": "127.0.0.1",
        "loop_interval": 1,
        "log_level_logfile": "info",
        # Salt's loader searches module_dirs last-listed first and the first module of a name
        # wins: the stand-ins in root/ext shadow the checkout's real modules of the same name.
        "module_dirs": [str(REPO), str(root / "ext")],
        "brine_test_calls": str(work / "calls.jsonl"),
        "brine_test_nova_conf": str(work / "nova" / "nova.conf"),
        "brine_test_marker": str(work / "highstate-marker"),
    }
    if events_key:
        config.update(brine_events_key=events_key, start_event_grains=["brine_start_sig"])
    if engines:
        config["engines"] = engines
    if beacons:
        config["beacons"] = beacons
    return config


def calls(minion_config, since=0.0):
    """The stand-in dualbond calls made on that minion after ``since``."""
    path = Path(minion_config["brine_test_calls"])
    if not path.exists():
        return []
    entries = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [e for e in entries if e["time"] >= since]


def fail_next_reselect(minion_config, times=1):
    """The next ``times`` dualbond.reselect_primary calls on that minion raise."""
    Path(minion_config["brine_test_calls"] + ".fail").write_text(str(times))


def wait_for(predicate, timeout=60, interval=0.05):
    """brine_testlib.wait_for at the event tests' pace (events are recorded within milliseconds)."""
    return brine_testlib.wait_for(predicate, timeout, interval)


def replace_file(path, text):
    """Write a file the way configuration tools do: a temporary file renamed over the old one."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.brine-tmp")
    tmp.write_text(text)
    tmp.replace(path)
