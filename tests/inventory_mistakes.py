"""One deliberate mistake of each kind the inventory checker must catch, shared by the unit and
functional tiers: (how to break the example lab, the exact pillar path, words of the message)."""

import copy


def mutate(inventory, fn):
    broken = copy.deepcopy(inventory)
    fn(broken)
    return broken


MISTAKES = {
    "bad MAC": (
        lambda i: i["hosts"]["ubuntu2"]["nics"]["eth3"].update(mac="52:54:00:10:02:03:99"),
        "brine:hosts:ubuntu2:nics:eth3:mac",
        "not a MAC address",
    ),
    "IP outside its network": (
        lambda i: i["hosts"]["ubuntu1"]["networks"]["tunnel"].update(address="10.10.0.99"),
        "brine:hosts:ubuntu1:networks:tunnel:address",
        "outside its network 10.200.0.0/24",
    ),
    "duplicate MAC": (
        lambda i: i["hosts"]["ubuntu3"]["nics"]["eth2"].update(mac="52-54-00-10-01-02"),
        "brine:hosts:ubuntu3:nics:eth2:mac",
        "duplicate MAC 52:54:00:10:01:02, already used at brine:hosts:ubuntu1:nics:eth2:mac",
    ),
    "duplicate IP": (
        lambda i: i["hosts"]["ubuntu2"]["networks"]["management"].update(address="10.10.0.11"),
        "brine:hosts:ubuntu2:networks:management:address",
        "duplicate IP address 10.10.0.11",
    ),
    "duplicate hostname": (
        lambda i: i["hosts"]["ubuntu2"].update(hostname="UBUNTU1"),
        "brine:hosts:ubuntu2:hostname",
        "duplicate host name 'UBUNTU1'",
    ),
    "unknown role": (
        lambda i: i["hosts"]["ubuntu1"]["roles"].append("controler"),
        "brine:hosts:ubuntu1:roles:3",
        "unknown role 'controler'",
    ),
    "carrier detection on a Linux bond": (
        lambda i: i["hosts"]["ubuntu1"]["dualbond"].update(link_detect="carrier"),
        "brine:hosts:ubuntu1:dualbond:link_detect",
        "Linux bonds detect links by miimon only",
    ),
    "bond member not a NIC": (
        lambda i: i["hosts"]["ubuntu1"]["dualbond"].update(nics=["eth2", "eth4"]),
        "brine:hosts:ubuntu1:dualbond:nics:1",
        "bond member 'eth4' is not one of this host's NICs",
    ),
    "VLAN out of range": (
        lambda i: i["networks"]["tunnel"].update(vlan=4095),
        "brine:networks:tunnel:vlan",
        "VLAN id 4095 is out of range 1-4094",
    ),
    "MTU out of range": (
        lambda i: i["networks"]["management"].update(mtu=9600),
        "brine:networks:management:mtu",
        "MTU 9600 is out of range",
    ),
    "gateway outside network": (
        lambda i: i["networks"]["management"].update(gateway="10.11.0.1"),
        "brine:networks:management:gateway",
        "outside its network",
    ),
    "address in DHCP range": (
        lambda i: i["hosts"]["ubuntu3"]["networks"]["management"].update(address="10.10.0.210"),
        "brine:hosts:ubuntu3:networks:management:address",
        "inside the DHCP dynamic range",
    ),
    "VIP collides with a host": (
        lambda i: i["vips"]["internal"].update(address="10.10.0.12"),
        "brine:vips:internal:address",
        "duplicate IP address 10.10.0.12",
    ),
    "unknown network": (
        lambda i: i["hosts"]["ubuntu1"]["networks"].update(storage={"address": "10.30.0.1", "nic": "eth2"}),
        "brine:hosts:ubuntu1:networks:storage",
        "unknown network 'storage'",
    ),
    "network on a missing NIC": (
        lambda i: i["hosts"]["bootstrap"]["networks"]["management"].update(nic="eth1"),
        "brine:hosts:bootstrap:networks:management:nic",
        "'eth1' is not one of this host's NICs",
    ),
    "disk by sdX": (
        lambda i: i["hosts"]["ubuntu1"]["disks"]["osd1"].update(by_id="/dev/sdb"),
        "brine:hosts:ubuntu1:disks:osd1:by_id",
        "is not a /dev/disk/by-id/ path",
    ),
    "NIC name too long": (
        lambda i: i["hosts"]["bootstrap"]["nics"].update({"enp3s0f0np0abcde": {"mac": "52:54:00:10:00:77"}}),
        "brine:hosts:bootstrap:nics:enp3s0f0np0abcde",
        "longer than the kernel's 15 characters",
    ),
    "secret in clear": (
        lambda i: i["secrets"].update(rabbitmq_password="hunter2"),
        "brine:secrets:rabbitmq_password",
        "never the secret itself",
    ),
    "overlapping networks": (
        lambda i: i["networks"].update(storage={"cidr": "10.10.0.128/25", "vlan": 30}),
        "brine:networks:storage:cidr",
        "overlaps network 'management'",
    ),
    "unknown backend": (
        lambda i: i["hosts"]["ubuntu2"]["dualbond"].update(backend="teamd"),
        "brine:hosts:ubuntu2:dualbond:backend",
        "unknown backend 'teamd'",
    ),
    "NIC named like a dual-bond device": (
        lambda i: i["hosts"]["ubuntu1"]["nics"].update({"bond-eth3": {"mac": "52:54:00:10:01:77"}}),
        "brine:hosts:ubuntu1:dualbond",
        "device name 'bond-eth3' would be both the NIC bond-eth3 and the bond of NIC eth3",
    ),
    # The controllers' VIPs and load balancer (check_load_balancer; docs/loadbalancer.md)
    "VIP without a VRRP id": (
        lambda i: i["vips"]["external"].pop("vrid"),
        "brine:vips:external:vrid",
        "missing: each VIP needs its own VRRP virtual router id",
    ),
    "VRRP id out of range": (
        lambda i: i["vips"]["internal"].update(vrid=256),
        "brine:vips:internal:vrid",
        "VRRP virtual router id 256 is out of range 1-255",
    ),
    "VRRP id used twice": (
        lambda i: i["vips"]["internal"].update(vrid=52),
        "brine:vips:internal:vrid",
        "VRRP virtual router id 52 is already used by VIP 'external'",
    ),
    "VRRP priority of a non-controller": (
        lambda i: i["vips"]["internal"].update(priorities={"bootstrap": 100}),
        "brine:vips:internal:priorities:bootstrap",
        "'bootstrap' is not a controller",
    ),
    "VRRP priority out of range": (
        lambda i: i["vips"]["internal"].update(priorities={"ubuntu2": 255}),
        "brine:vips:internal:priorities:ubuntu2",
        "VRRP priority 255 is out of range 1-254",
    ),
    "controller without an address on a VIP's network": (
        lambda i: i["hosts"]["ubuntu3"]["networks"].pop("external"),
        "brine:hosts:ubuntu3:networks:external:address",
        "controller ubuntu3 needs an address on network 'external', the network of VIP 'external'",
    ),
    "controllers without an internal VIP": (
        lambda i: i["vips"].pop("internal"),
        "brine:vips:internal",
        "missing: the controllers' VIPs and HAProxy need an internal VIP",
    ),
    "unknown VIP key": (
        lambda i: i["vips"]["internal"].update(vrrp_id=7),
        "brine:vips:internal:vrrp_id",
        "unknown key; expected one of address, network, fqdn, vrid, priorities",
    ),
    "controllers without the keepalived secret": (
        lambda i: i["secrets"].pop("keepalived_auth"),
        "brine:secrets:keepalived_auth",
        "missing: the controllers' load balancer needs it",
    ),
    "controllers without the HAProxy stats secret": (
        lambda i: i["secrets"].pop("haproxy_stats_password"),
        "brine:secrets:haproxy_stats_password",
        "missing: the controllers' load balancer needs it",
    ),
    # MariaDB Galera on the controllers (docs/galera.md)
    "two controllers": (
        lambda i: i["hosts"]["ubuntu3"].update(roles=["compute", "storage"]),
        "brine:hosts:ubuntu2:roles",
        "Galera keeps quorum only with 3 or more",
    ),
    "Galera secret missing": (
        lambda i: i["secrets"].pop("galera_sst_password"),
        "brine:secrets:galera_sst_password",
        "the controller role's MariaDB Galera needs it",
    ),
    "controller without a management address": (
        lambda i: i["hosts"]["ubuntu2"]["networks"].pop("management"),
        "brine:hosts:ubuntu2:networks:management",
        "a controller needs a management address",
    ),
    "Galera cluster name": (
        lambda i: i.update(galera={"cluster_name": "my cluster"}),
        "brine:galera:cluster_name",
        "must be 1-32 letters",
    ),
    "Galera SST method": (
        lambda i: i.update(galera={"sst_method": "xtrabackup"}),
        "brine:galera:sst_method",
        "unknown SST method 'xtrabackup'",
    ),
    "Keystone without its database password": (
        lambda i: i["secrets"].pop("keystone_db_password"),
        "brine:secrets:keystone_db_password",
        "missing: the controller role's Keystone needs it",
    ),
    "Galera unknown key": (
        lambda i: i.update(galera={"clustername": "x"}),
        "brine:galera:clustername",
        "unknown key",
    ),
}

# The host baseline (brine:baseline, docs/baseline.md).
MISTAKES.update({
    "unknown time zone": (
        lambda i: i["baseline"].update(timezone="Europe/Berlim"),
        "brine:baseline:timezone",
        "unknown time zone 'Europe/Berlim'",
    ),
    "root as the deployment user": (
        lambda i: i["baseline"]["deploy"].update(user="root"),
        "brine:baseline:deploy:user",
        "never root",
    ),
    "system account as the deployment user": (
        lambda i: i["baseline"]["deploy"].update(user="daemon"),
        "brine:baseline:deploy:user",
        "'daemon' is a system account",
    ),
    "SSH key with options": (
        lambda i: i["baseline"]["deploy"]["ssh_keys"].append(
            'command="/bin/true" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBZgUM0p4h2TFkRC+XUT6uiPnG19UQYGAD7yT/u4o7O0 x'),
        "brine:baseline:deploy:ssh_keys:1",
        "options such as command=... are not accepted",
    ),
    "truncated SSH key": (
        lambda i: i["baseline"]["deploy"]["ssh_keys"].__setitem__(
            0, "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBrineExampleKeyReplaceMeWithYourOwnPublicKey0 operator@lab"),
        "brine:baseline:deploy:ssh_keys:0",
        "does not decode to a key",
    ),
    "sudo nopasswd not a boolean": (
        lambda i: i["baseline"]["deploy"]["sudo"].update(nopasswd="yes"),
        "brine:baseline:deploy:sudo:nopasswd",
        "must be true or false",
    ),
    "deployment user in its old place": (
        lambda i: i["services"]["install"].update(user="brine"),
        "brine:services:install:user",
        "moved to brine:baseline:deploy:user",
    ),
    "hosts file from an unknown network": (
        lambda i: i["baseline"].update(hosts_network="storage"),
        "brine:baseline:hosts_network",
        "unknown network 'storage'",
    ),
    "unknown OpenStack release": (
        lambda i: i["openstack"].update(release="2019.3", console={**i["openstack"]["console"], "deployment": "kolla"}),
        "brine:openstack:release",
        "'2019.3' is not a release Brine knows (known: train, ussuri,",
    ),
    "kolla tunnel on an unknown network": (
        lambda i: i["openstack"].update(kolla={"tunnel_network": "overlay"}),
        "brine:openstack:kolla:tunnel_network",
        "'overlay' is not one of the inventory's networks",
    ),
})
