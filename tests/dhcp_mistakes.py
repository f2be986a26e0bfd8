"""One deliberate DHCP mistake of each kind dhcp_reservations must refuse, shared by the unit and
functional tiers."""

# kind: (how to break the example lab, the exact pillar path, words of the message)
DHCP_MISTAKES = {
    "seven-octet MAC": (
        lambda i: i["hosts"]["ubuntu2"]["nics"]["eth2"].update(mac="52:54:00:10:02:02:99"),
        "brine:hosts:ubuntu2:nics:eth2:mac",
        "not a MAC address",
    ),
    "multicast MAC": (
        lambda i: i["hosts"]["ubuntu2"]["nics"]["eth2"].update(mac="01:00:5e:00:00:01"),
        "brine:hosts:ubuntu2:nics:eth2:mac",
        "multicast",
    ),
    "IP outside the subnet": (
        lambda i: i["hosts"]["ubuntu1"]["networks"]["management"].update(address="10.10.1.11"),
        "brine:hosts:ubuntu1:networks:management:address",
        "outside the DHCP subnet 10.10.0.0/24",
    ),
    "IP is the broadcast address": (
        lambda i: i["hosts"]["ubuntu1"]["networks"]["management"].update(address="10.10.0.255"),
        "brine:hosts:ubuntu1:networks:management:address",
        "network or broadcast address",
    ),
    "IP inside the dynamic range": (
        lambda i: i["hosts"]["ubuntu3"]["networks"]["management"].update(address="10.10.0.210"),
        "brine:hosts:ubuntu3:networks:management:address",
        "inside the DHCP dynamic range 10.10.0.200-10.10.0.250",
    ),
    "not an IP": (
        lambda i: i["hosts"]["ubuntu3"]["networks"]["management"].update(address="10.10.0.300"),
        "brine:hosts:ubuntu3:networks:management:address",
        "is not an IP address",
    ),
    "duplicate MAC": (
        lambda i: i["hosts"]["ubuntu3"]["nics"]["eth2"].update(mac="52-54-00-10-01-02"),
        "brine:hosts:ubuntu3:nics:eth2:mac",
        "duplicate MAC 52:54:00:10:01:02, already used at brine:hosts:ubuntu1:nics:eth2:mac",
    ),
    "duplicate IP": (
        lambda i: i["hosts"]["ubuntu2"]["networks"]["management"].update(address="10.10.0.11"),
        "brine:hosts:ubuntu2:networks:management:address",
        "duplicate IP address 10.10.0.11, already used at brine:hosts:ubuntu1:networks:management:address",
    ),
    "IP of the gateway": (
        lambda i: i["hosts"]["ubuntu2"]["networks"]["management"].update(address="10.10.0.1"),
        "brine:hosts:ubuntu2:networks:management:address",
        "already used at brine:networks:management:gateway",
    ),
    "duplicate hostname": (
        lambda i: i["hosts"]["ubuntu2"].update(hostname="Ubuntu1"),
        "brine:hosts:ubuntu2:hostname",
        "duplicate host name 'Ubuntu1'",
    ),
    "invalid hostname": (
        lambda i: i["hosts"]["ubuntu2"].update(hostname="ubuntu_2"),
        "brine:hosts:ubuntu2:hostname",
        "not a valid host name",
    ),
    "NIC of the DHCP network is not the host's": (
        lambda i: i["hosts"]["ubuntu1"]["networks"]["management"].update(nic="eth9"),
        "brine:hosts:ubuntu1:networks:management:nic",
        "'eth9' is not one of this host's NICs (eth2, eth3)",
    ),
    "no address on the DHCP network": (
        lambda i: i["hosts"]["ubuntu1"]["networks"]["management"].pop("address"),
        "brine:hosts:ubuntu1:networks:management:address",
        "missing: the host has no address on the DHCP network 'management'",
    ),
    "address on a network that does not exist": (
        lambda i: i["hosts"]["ubuntu1"]["networks"].update(storage={"address": "10.30.0.11", "nic": "eth3"}),
        "brine:hosts:ubuntu1:networks:storage",
        "unknown network 'storage'",
    ),
    "DHCP network that does not exist": (
        lambda i: i["services"]["dhcp"].update(network="provisioning"),
        "brine:services:dhcp:network",
        "'provisioning' is not one of the inventory's networks",
    ),
    "unknown DHCP server": (
        lambda i: i["services"]["dhcp"].update(server="udhcpd"),
        "brine:services:dhcp:server",
        "unknown DHCP server 'udhcpd'",
    ),
    "no bootstrap host": (
        lambda i: i["hosts"]["bootstrap"].update(roles=["registry"]),
        "brine:hosts",
        "no host has the bootstrap role",
    ),
    "bootstrap host off the DHCP network": (
        lambda i: i["hosts"]["bootstrap"].update(networks={}),
        "brine:hosts:bootstrap:networks:management",
        "the bootstrap host needs an address on the DHCP network",
    ),
    "lease time too short": (
        lambda i: i["services"]["dhcp"].update(lease_time=5),
        "brine:services:dhcp:lease_time",
        "must be a whole number of seconds >= 60",
    ),
}

# The bootstrap services' settings, checked by the same validation.
DHCP_MISTAKES.update({
    # The installed hosts' user is the deployment user (brine:baseline:deploy).
    "private SSH key for the install user": (
        lambda i: i["baseline"]["deploy"]["ssh_keys"].append("-----BEGIN OPENSSH PRIVATE KEY-----"),
        "brine:baseline:deploy:ssh_keys:1",
        "this is a private key",
    ),
    "root as the install user": (
        lambda i: i["baseline"]["deploy"].update(user="root"),
        "brine:baseline:deploy:user",
        "never root",
    ),
    "no deployment user for the installer": (
        lambda i: i["baseline"].pop("deploy"),
        "brine:baseline:deploy",
        "the installed hosts need the deployment user",
    ),
    "boot file name with a quote": (
        lambda i: i["services"]["pxe"].update(filename='pxe"linux.0'),
        "brine:services:pxe:filename",
        "is not a boot file name",
    ),
    "DNS forwarder that is not an address": (
        lambda i: i["services"]["dns"].update(forwarders=["home-router"]),
        "brine:services:dns:forwarders:0",
        "is not an IP address",
    ),
})

DHCP_MISTAKES.update({
    "MTU option 26 out of range": (
        lambda i: i["networks"]["management"].update(mtu=65000),
        "brine:networks:management:mtu",
        "MTU 65000 is out of range 68-9216",
    ),
    "relative log path": (
        lambda i: i["services"]["dhcp"].update(log="dhcpd.log"),
        "brine:services:dhcp:log",
        "is not an absolute path",
    ),
    "interface name with shell characters": (
        lambda i: i["services"]["dhcp"].update(interface="eth0$(reboot)"),
        "brine:services:dhcp:interface",
        "may only hold letters, digits, '_', '.' and '-'",
    ),
})
