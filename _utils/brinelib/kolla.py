"""
What kolla-ansible is told (docs/kolla.md), the pure part: the release table (which
kolla-ansible to install for the inventory's ``openstack:release`` and what that release can
do), ``/etc/kolla/globals.yml`` as a dict, and the multinode inventory as INI text, all from the
one inventory. Nothing here reads a file or runs a command.

The facts in :data:`RELEASES` come from kolla-ansible's own tree at each pinned tag
(github.com/openstack/kolla-ansible): ``setup.cfg`` (Python), the prechecks' supported host
distributions (``ansible/roles/prechecks/vars/main.yml``; train: the support matrix),
``etc/kolla/globals.yml`` (``enable_ceph`` exists up to train only) and
``ansible/inventory/multinode`` (the child groups, :data:`CHILD_GROUPS`).
"""

import ipaddress

from brinelib import acme, baseline, names
from brinelib.dualbond.plan import build_plan
from brinelib.errors import InventoryProblem

# The default of ``openstack:release`` (the normalised inventory fills it in).
DEFAULT_RELEASE = "2024.1"

# The image base distribution: Brine installs Debian on every host, and kolla advises images of
# the hosts' distribution.
BASE_DISTRO = "debian"

# The registry host's registry (Debian's docker-registry package listens on :5000).
REGISTRY_PORT = 5000

# OpenStack release (kolla's own ``openstack_release`` spelling: the series name up to zed, the
# YEAR.N version from 2023.1) -> the kolla-ansible to pin and what the renderers need:
#   pin          the exact PyPI version: the latest stable of the series
#   kolla_ceph   Kolla itself deploys Ceph (``enable_ceph``); from ussuri only an external Ceph
#   debian       the Debian suites kolla-ansible's prechecks accept as hosts
#   python       (oldest, newest) Python kolla-ansible's setup.cfg lists
RELEASES = {
    "train": {"pin": "9.3.2", "kolla_ceph": True, "debian": ("buster",), "python": ((3, 6), (3, 7))},
    "ussuri": {"pin": "10.4.0", "kolla_ceph": False, "debian": ("buster",), "python": ((3, 6), (3, 7))},
    "victoria": {"pin": "11.4.0", "kolla_ceph": False, "debian": ("buster",), "python": ((3, 6), (3, 8))},
    "wallaby": {"pin": "12.8.0", "kolla_ceph": False, "debian": ("buster", "bullseye"), "python": ((3, 6), (3, 8))},
    "xena": {"pin": "13.9.0", "kolla_ceph": False, "debian": ("bullseye",), "python": ((3, 6), (3, 8))},
    "yoga": {"pin": "14.11.0", "kolla_ceph": False, "debian": ("bullseye",), "python": ((3, 6), (3, 9))},
    "zed": {"pin": "15.6.0", "kolla_ceph": False, "debian": ("bullseye",), "python": ((3, 6), (3, 9))},
    "2023.1": {"pin": "16.7.0", "kolla_ceph": False, "debian": ("bullseye", "bookworm"), "python": ((3, 6), (3, 9))},
    "2023.2": {"pin": "17.9.0", "kolla_ceph": False, "debian": ("bullseye", "bookworm"), "python": ((3, 8), (3, 10))},
    "2024.1": {"pin": "18.8.0", "kolla_ceph": False, "debian": ("bullseye", "bookworm"), "python": ((3, 8), (3, 11))},
    "2024.2": {"pin": "19.8.0", "kolla_ceph": False, "debian": ("bookworm",), "python": ((3, 10), (3, 11))},
    "2025.1": {"pin": "20.5.0", "kolla_ceph": False, "debian": ("bookworm",), "python": ((3, 10), (3, 12))},
    "2025.2": {"pin": "21.2.0", "kolla_ceph": False, "debian": ("bookworm",), "python": ((3, 11), (3, 12))},
    "2026.1": {"pin": "22.1.0", "kolla_ceph": False, "debian": ("bookworm", "trixie"), "python": ((3, 11), (3, 12))},
}

# The versioned releases' names, accepted as spellings of their version.
_NAMED_VERSIONS = {
    "antelope": "2023.1", "bobcat": "2023.2", "caracal": "2024.1", "dalmatian": "2024.2",
    "epoxy": "2025.1", "flamingo": "2025.2", "gazpacho": "2026.1",
}

# ``openstack:kolla`` (optional): which inventory network kolla's tunnel and Neutron external
# interfaces are on. Defaults: the network named ``tunnel``; the external VIP's network.
KOLLA_KEYS = ("tunnel_network", "neutron_external_network")
DEFAULT_TUNNEL_NETWORK = "tunnel"

# Brine role -> kolla-ansible's top-level groups (the multinode file's first part).
ROLE_GROUPS = {
    names.CONTROLLER_ROLE: ("control", "network", "monitoring"),
    "compute": ("compute",),
    "storage": ("storage",),
    "deployer": ("deployment",),
}
TOP_GROUPS = ("control", "network", "compute", "storage", "monitoring", "deployment")

# The child groups of kolla's multinode file that the services Brine enables use:
# (group, children, service, first major, last major). ``service`` None: always there;
# otherwise only while that ``enable_*`` is "yes". Majors are kolla-ansible's (9 = train).
# Children Brine does not deploy (manila-share, ironic) are left out of kolla's lists.
_ALL = None
CHILD_GROUPS = (
    ("baremetal", ("control", "network", "compute", "storage", "monitoring"), _ALL, 9, None),
    ("common", ("control", "network", "compute", "storage", "monitoring"), _ALL, 11, None),
    ("tls-backend", ("control",), _ALL, 10, 17),
    ("tls-backend", ("control", "network"), _ALL, 18, None),
    ("chrony-server", ("haproxy",), _ALL, 9, 12),
    ("chrony", ("control", "network", "compute", "storage", "monitoring"), _ALL, 9, 12),
    ("haproxy", ("network",), _ALL, 9, 12),
    ("loadbalancer", ("network",), _ALL, 13, None),
    ("cron", ("common",), _ALL, 11, None),
    ("fluentd", ("common",), _ALL, 11, None),
    ("kolla-logs", ("common",), _ALL, 11, 21),
    ("kolla-toolbox", ("common",), _ALL, 11, 21),
    ("mariadb", ("control",), _ALL, 9, None),
    ("rabbitmq", ("control",), _ALL, 9, None),
    ("outward-rabbitmq", ("control",), _ALL, 9, 17),
    ("memcached", ("control",), _ALL, 9, None),
    ("keystone", ("control",), _ALL, 9, None),
    ("glance", ("control",), _ALL, 9, None),
    ("glance-api", ("glance",), _ALL, 9, None),
    ("nova", ("control",), _ALL, 9, None),
    ("nova-api", ("nova",), _ALL, 9, None),
    ("nova-conductor", ("nova",), _ALL, 9, None),
    ("nova-super-conductor", ("nova",), _ALL, 9, None),
    ("nova-novncproxy", ("nova",), _ALL, 9, None),
    ("nova-scheduler", ("nova",), _ALL, 9, None),
    ("nova-spicehtml5proxy", ("nova",), _ALL, 9, None),
    ("nova-compute-ironic", ("nova",), _ALL, 9, None),
    ("nova-serialproxy", ("nova",), _ALL, 9, None),
    ("placement", ("control",), _ALL, 9, None),
    ("placement-api", ("placement",), _ALL, 9, None),
    ("neutron", ("network",), _ALL, 9, None),
    ("neutron-server", ("control",), _ALL, 9, None),
    ("neutron-dhcp-agent", ("neutron",), _ALL, 9, None),
    ("neutron-l3-agent", ("neutron",), _ALL, 9, None),
    ("neutron-metadata-agent", ("neutron",), _ALL, 9, None),
    ("neutron-bgp-dragent", ("neutron",), _ALL, 9, None),
    ("neutron-infoblox-ipam-agent", ("neutron",), _ALL, 9, None),
    ("neutron-metering-agent", ("neutron",), _ALL, 9, None),
    ("ironic-neutron-agent", ("neutron",), _ALL, 9, None),
    ("openvswitch", ("network", "compute"), _ALL, 9, None),
    ("horizon", ("control",), _ALL, 9, None),
    ("heat", ("control",), _ALL, 9, None),
    ("heat-api", ("heat",), _ALL, 9, None),
    ("heat-api-cfn", ("heat",), _ALL, 9, None),
    ("heat-engine", ("heat",), _ALL, 9, None),
    ("cinder", ("control",), "cinder", 9, None),
    ("cinder-api", ("cinder",), "cinder", 9, None),
    ("cinder-backup", ("storage",), "cinder", 9, 21),
    ("cinder-backup", ("cinder",), "cinder", 22, None),
    ("cinder-scheduler", ("cinder",), "cinder", 9, None),
    ("cinder-volume", ("storage",), "cinder", 9, 21),
    ("cinder-volume", ("cinder",), "cinder", 22, None),
    ("iscsid", ("compute", "storage"), "cinder", 9, None),
    ("tgtd", ("storage",), "cinder", 9, None),
    ("ceph", ("control",), "ceph", 9, 9),
    ("ceph-mon", ("ceph",), "ceph", 9, 9),
    ("ceph-mgr", ("ceph",), "ceph", 9, 9),
    ("ceph-osd", ("storage",), "ceph", 9, 9),
    ("ceph-rgw", ("ceph",), "ceph", 9, 9),
    ("ceph-mds", ("ceph",), "ceph", 9, 9),
    ("ceph-nfs", ("ceph",), "ceph", 9, 9),
)

# The Kolla disk labels of an OSD's data disk (kolla_disks): what makes Kolla-deployed Ceph worth enabling.
OSD_DATA_LABELS = ("osd", "bluestore")

# --------------------------------------------------------------------------- the release table


def canonical_release(value):
    """
    ``value`` (an ``openstack:release`` as the inventory spells it) in kolla's own spelling, the
    key of :data:`RELEASES`: names in any case (``Zed`` -> ``zed``, ``Caracal`` -> ``2024.1``),
    versions as ``YEAR.N`` (a YAML float 2024.1 too). None when it is no release Brine knows.
    """
    if isinstance(value, bool) or not isinstance(value, (str, float)):
        return None
    text = (f"{value:.1f}" if isinstance(value, float) else value).strip().lower()
    text = _NAMED_VERSIONS.get(text, text)
    return text if text in RELEASES else None


def release_problem(value):
    """Why ``value`` cannot be ``openstack:release``, or None when it can."""
    if canonical_release(value) is None:
        return f"{value!r} is not a release Brine knows (known: {', '.join(RELEASES)})"
    return None


def release(inventory):
    """
    The row of :data:`RELEASES` for the inventory's ``openstack:release`` (default
    :data:`DEFAULT_RELEASE`), with ``release`` (the canonical name) and ``major`` (kolla-ansible's
    major version) added; InventoryProblem naming the key when it is unknown.
    """
    value = ((inventory or {}).get("openstack") or {}).get("release", DEFAULT_RELEASE)
    canonical = canonical_release(value)
    if canonical is None:
        raise InventoryProblem(f"brine:openstack:release: {release_problem(value)}")
    row = RELEASES[canonical]
    return {**row, "release": canonical, "major": int(row["pin"].split(".")[0])}


def pip_requirement(inventory):
    """The pip requirement of the release's kolla-ansible: ``kolla-ansible==18.8.0``."""
    return f"kolla-ansible=={release(inventory)['pin']}"


def deployed_by_kolla(inventory):
    """
    Whether the inventory says Kolla deploys OpenStack (``openstack:console:deployment: kolla``).
    Otherwise OpenStack comes from packages, and ``openstack:release`` may be any release the
    package-side code knows (nova_console reads icehouse on).
    """
    spec = (inventory or {}).get("openstack")
    console = spec.get("console") if isinstance(spec, dict) else None
    return isinstance(console, dict) and console.get("deployment") == "kolla"


def check(inventory):
    """
    The problems of ``openstack:release`` and ``openstack:kolla`` as ``[(path, message)]``
    (paths below ``brine:``), for the inventory check. Empty when both are usable. A release
    without a kolla-ansible pin is a problem only where Kolla deploys OpenStack
    (:func:`deployed_by_kolla`); :func:`release` refuses it whenever a renderer asks.
    """
    spec = (inventory or {}).get("openstack")
    if not isinstance(spec, dict):
        return []  # the inventory check names a non-mapping openstack
    out = []
    if "release" in spec and deployed_by_kolla(inventory) and release_problem(spec["release"]):
        out.append(("openstack:release", release_problem(spec["release"])))
    kolla = spec.get("kolla", {})
    if not isinstance(kolla, dict):
        return out + [("openstack:kolla", f"must be a mapping, got {type(kolla).__name__}")]
    networks = (inventory.get("networks") or {}) if isinstance(inventory.get("networks"), dict) else {}
    for key, value in kolla.items():
        if key not in KOLLA_KEYS:
            out.append((f"openstack:kolla:{key}", f"unknown key; expected one of {', '.join(KOLLA_KEYS)}"))
        elif value not in networks:
            out.append((f"openstack:kolla:{key}", f"{value!r} is not one of the inventory's networks"))
    return out


# --------------------------------------------------------------------------- interfaces


def _kolla_settings(inventory):
    return ((inventory.get("openstack") or {}).get("kolla") or {})


def _vip(inventory, name):
    vip = (inventory.get("vips") or {}).get(name)
    return vip if isinstance(vip, dict) else None


def _internal_vip(inventory):
    vip = _vip(inventory, "internal")
    if vip is None:
        raise InventoryProblem("brine:vips:internal: missing: kolla_internal_vip_address and kolla's API network come from it")
    return vip


def interface_networks(inventory):
    """
    Kolla interface option -> ``(inventory network, the key that chose it)``: the API and
    default network is the internal VIP's; the external VIP interface the external VIP's (only
    with an external VIP); the tunnel network ``openstack:kolla:tunnel_network`` (default
    ``tunnel``); Neutron's external interface ``openstack:kolla:neutron_external_network``
    (default: the external VIP's network).
    """
    internal = _internal_vip(inventory)["network"]
    external = _vip(inventory, "external")
    settings = _kolla_settings(inventory)
    out = {
        "network_interface": (internal, "vips:internal:network"),
        "api_interface": (internal, "vips:internal:network"),
        "tunnel_interface": (settings.get("tunnel_network", DEFAULT_TUNNEL_NETWORK), "openstack:kolla:tunnel_network"),
    }
    if "neutron_external_network" in settings:
        out["neutron_external_interface"] = (settings["neutron_external_network"], "openstack:kolla:neutron_external_network")
    elif external is not None:
        out["neutron_external_interface"] = (external["network"], "openstack:kolla:neutron_external_network")
    if external is not None:
        out["kolla_external_vip_interface"] = (external["network"], "vips:external:network")
    return out


def network_interfaces(inventory, host):
    """
    Inventory network -> the kernel interface that carries it on ``host`` (a minion id), as
    the host's dual-bond plan names it: the VLAN interface on the NIC's bridge (``br-eth2.10``),
    the bridge itself for an untagged network. Networks not on the dual bond are left out.
    InventoryProblem for an unknown host or one without a dual bond.
    """
    entry = (inventory.get("hosts") or {}).get(host)
    if not isinstance(entry, dict):
        raise InventoryProblem(f"brine:hosts:{host}: no such host")
    plan = build_plan(entry, inventory.get("networks") or {}, host)
    out = {vlan["network"]: vlan["name"] for vlan in plan["vlans"]}
    bridges = {leg["nic"]: leg["bridge"] for leg in plan["legs"]}
    for network, attachment in (entry.get("networks") or {}).items():
        if network not in out and attachment.get("nic") in bridges:
            out[network] = bridges[attachment["nic"]]
    return out


def interfaces_for(inventory, host):
    """
    Kolla interface option (``network_interface``, ``api_interface``, ``tunnel_interface``,
    ``neutron_external_interface``, ``kolla_external_vip_interface``) -> ``host``'s kernel
    interface for it (:func:`interface_networks`, :func:`network_interfaces`). Options whose
    network the host is not on are left out.
    """
    by_network = network_interfaces(inventory, host)
    return {option: by_network[network] for option, (network, _key) in interface_networks(inventory).items()
            if network in by_network}


def reference_host(inventory):
    """The host whose interfaces globals.yml carries: the first controller (kolla's first control host)."""
    found = names.controllers(inventory)
    if not found:
        raise InventoryProblem("brine:hosts: no host has the controller role: kolla needs control hosts")
    return found[0]


# --------------------------------------------------------------------------- globals.yml


def _yes(flag):
    return "yes" if flag else "no"


def enabled_services(inventory, row=None):
    """
    The ``enable_*`` flags Brine decides, as kolla spells them (``"yes"``/``"no"``):
    ``enable_cinder`` when a host has the storage role; ``enable_ceph`` only for releases whose
    Kolla deploys Ceph, "yes" when a storage host has an OSD data disk label (``kolla: osd`` or
    ``bluestore``). Every other service keeps kolla's default.
    """
    row = row or release(inventory)
    storage = names.hosts_with_role(inventory, "storage")
    flags = {"enable_cinder": _yes(storage)}
    if row["kolla_ceph"]:
        hosts = inventory.get("hosts") or {}
        flags["enable_ceph"] = _yes(any(
            isinstance(disk, dict) and disk.get("kolla") in OSD_DATA_LABELS
            for host in storage for disk in (hosts[host].get("disks") or {}).values()))
    return flags


def _address(value, path):
    try:
        return str(ipaddress.ip_address(str(value)))
    except ValueError:
        raise InventoryProblem(f"{path}: {value!r} is not an IP address") from None


def host_address(inventory, host):
    """``host``'s address on the internal VIP's network: how kolla-ansible and the registry reach it."""
    network = _internal_vip(inventory)["network"]
    address = names.network_address(inventory, host, network)
    if address is None:
        raise InventoryProblem(
            f"brine:hosts:{host}:networks:{network}:address: missing: kolla reaches its hosts on "
            f"network {network!r}, the internal VIP's")
    return _address(address, f"brine:hosts:{host}:networks:{network}:address")


def registry(inventory):
    """``address:port`` of the registry host's registry, or None without a registry host."""
    found = names.hosts_with_role(inventory, "registry")
    if len(found) > 1:
        raise InventoryProblem(f"brine:hosts:{found[1]}:roles: a second registry host ({found[0]} is one); "
                               "kolla pulls from one docker_registry")
    return f"{host_address(inventory, found[0])}:{REGISTRY_PORT}" if found else None


def _install_suite(inventory):
    install = ((inventory.get("services") or {}).get("install") or {})
    return install.get("suite", "bookworm")


def globals_yml(inventory, interfaces):
    """
    ``/etc/kolla/globals.yml`` for the inventory, as a dict (the caller dumps it as YAML).
    ``interfaces`` is :func:`interfaces_for` of :func:`reference_host` (the multinode inventory
    gives other hosts their own where they differ). InventoryProblem, naming the key, for what
    cannot be rendered: an unknown release, Debian hosts the release does not support, no
    internal VIP, an interface kolla needs that ``interfaces`` does not have.
    """
    row = release(inventory)
    suite = _install_suite(inventory)
    if suite not in row["debian"]:
        raise InventoryProblem(
            f"brine:openstack:release: kolla-ansible {row['pin']} ({row['release']}) supports Debian "
            f"{', '.join(row['debian'])} hosts, not {suite} (brine:services:install:suite)")
    internal = _internal_vip(inventory)
    external = _vip(inventory, "external") or internal
    out = {
        "kolla_base_distro": BASE_DISTRO,
        "openstack_release": row["release"],
        "kolla_internal_vip_address": _address(internal.get("address"), "brine:vips:internal:address"),
        "kolla_external_vip_address": _address(
            external.get("address"), "brine:vips:external:address" if external is not internal else "brine:vips:internal:address"),
        # kolla's keepalived runs one VRRP instance, for the internal VIP (and the external one with it).
        "keepalived_virtual_router_id": str(internal.get("vrid", 51)),
    }
    out["kolla_internal_fqdn"] = internal.get("fqdn") or out["kolla_internal_vip_address"]
    out["kolla_external_fqdn"] = external.get("fqdn") or out["kolla_external_vip_address"]
    for option, (network, key) in interface_networks(inventory).items():
        if option not in interfaces:
            raise InventoryProblem(
                f"brine:{key}: kolla's {option} is on network {network!r}, and the interfaces given "
                "have none there (is it a network of the first controller's dual bond?)")
        out[option] = interfaces[option]
    out["neutron_plugin_agent"] = "openvswitch"
    found = registry(inventory)
    if found:
        out["docker_registry"] = found
    out["kolla_enable_tls_external"] = _yes(acme.enabled(inventory))
    out.update(enabled_services(inventory, row))
    return out


# --------------------------------------------------------------------------- multinode inventory

# Kolla group -> the interface options its hosts use (their own, where they differ from globals').
_GROUP_INTERFACES = {
    "control": ("network_interface", "api_interface"),
    "network": ("network_interface", "api_interface", "tunnel_interface", "neutron_external_interface",
                "kolla_external_vip_interface"),
    "compute": ("network_interface", "api_interface", "tunnel_interface"),
    "storage": ("network_interface", "api_interface"),
    "monitoring": ("network_interface", "api_interface"),
}


def groups(inventory):
    """Kolla's top-level group -> its hosts (minion ids, inventory order), from the hosts' roles."""
    out = {group: [] for group in TOP_GROUPS}
    for role, role_groups in ROLE_GROUPS.items():
        for host in names.hosts_with_role(inventory, role):
            for group in role_groups:
                out[group].append(host)
    order = list(inventory.get("hosts") or {})
    return {group: sorted(hosts, key=order.index) for group, hosts in out.items()}


def child_groups(inventory, row=None):
    """``[(group, children)]`` of the multinode file for the release and the enabled services."""
    row = row or release(inventory)
    flags = enabled_services(inventory, row)
    out = []
    for group, children, service, first, last in CHILD_GROUPS:
        if service is not None and flags.get(f"enable_{service}") != "yes":
            continue
        if first <= row["major"] and (last is None or row["major"] <= last):
            out.append((group, children))
    return out


def _host_interfaces(inventory, host, host_groups, reference):
    """``host``'s interface options that differ from the reference host's, refusing missing ones."""
    needed = [option for group in host_groups for option in _GROUP_INTERFACES.get(group, ())]
    if not needed:
        return {}
    mine = interfaces_for(inventory, host)
    networks = interface_networks(inventory)
    out = {}
    for option in dict.fromkeys(needed):
        if option not in networks:
            continue  # no external VIP: no kolla_external_vip_interface anywhere
        if option not in mine:
            network, key = networks[option]
            group = next(g for g in host_groups if option in _GROUP_INTERFACES.get(g, ()))
            raise InventoryProblem(
                f"brine:hosts:{host}:networks:{network}: missing on its dual bond: kolla's {group} hosts "
                f"need {option} (network {network!r}, brine:{key})")
        if mine[option] != reference.get(option):
            out[option] = mine[option]
    return out


def multinode_inventory(inventory, deploy_user):
    """
    kolla-ansible's multinode inventory (INI text) for the inventory: the groups of
    :data:`TOP_GROUPS` from the hosts' roles (:data:`ROLE_GROUPS`), each host by its minion id
    with ``ansible_host`` (its address on the internal VIP's network), ``ansible_user`` and
    ``ansible_become``, the deployer with ``ansible_connection=local``, a host's own interfaces
    where they differ from globals.yml's; then the child groups of :func:`child_groups`.
    """
    problem = baseline.deploy_user_problem(deploy_user)
    if problem:
        raise InventoryProblem(f"brine:baseline:deploy:user: {problem}")
    row = release(inventory)
    found = groups(inventory)
    reference = interfaces_for(inventory, reference_host(inventory))
    host_groups = {}
    for group, hosts in found.items():
        for host in hosts:
            host_groups.setdefault(host, []).append(group)
    own = {host: _host_interfaces(inventory, host, kolla_groups, reference) for host, kolla_groups in host_groups.items()}
    lines = []
    for group in TOP_GROUPS:
        lines.append(f"[{group}]")
        for host in found[group]:
            line = [host, f"ansible_host={host_address(inventory, host)}", f"ansible_user={deploy_user}",
                    "ansible_become=true"]
            if group == "deployment":
                line.append("ansible_connection=local")
            else:
                line += [f"{option}={value}" for option, value in own[host].items()]
            lines.append(" ".join(line))
        lines.append("")
    for group, children in child_groups(inventory, row):
        lines += [f"[{group}:children]", *children, ""]
    return "\n".join(lines)
