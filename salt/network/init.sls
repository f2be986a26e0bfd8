{#- The network role: the dual active-backup bond, its VLANs, MTUs and addresses, from the
    inventory (brine:hosts:<id>:dualbond and :networks), through the dualbond state. #}
{%- from 'brine/map.jinja' import check, me with context %}
include:
  - brine
  - network.plain
{%- if check.valid and 'network' in me.get('roles', []) %}
{%-   if me.get('dualbond') %}
{%-     set nics = salt['dualbond.nics_found']() %}
{%-     if nics.none %}
{#- Not one of this host's NICs is here (a checkout on a workstation, a CI runner): this is not
    the inventory's machine, so no interface of it is touched. #}
brine-dualbond-not-this-machine:
  test.succeed_without_changes:
    - name: "dual bond skipped: none of {{ me.dualbond.nics | join(', ') }} (by name or MAC) exists on this machine"
{%-     else %}
{%-       if me.dualbond.backend == 'ovs' %}

{#- The OVS backend needs ovsdb-server and ovs-vswitchd running before anything is asked. #}
brine-openvswitch:
  service.running:
    - name: openvswitch-switch
    - enable: True

{#- Open vSwitch 3.1 (Debian 12) counts the CPUs only once the monotonic clock has passed 10 s:
    a vswitchd started earlier in a boot runs with no upcall handler, and when one comes its
    kernel datapath still loses every upcall (seen in the lab after a power cycle: no new flow,
    `ovs-appctl dpctl/show` counting "lost", until vswitchd was restarted). At boot systemd reads
    this drop-in and starts vswitchd after that point; a running vswitchd is not restarted. #}
brine-openvswitch-start-after-cpu-count:
  file.managed:
    - name: /etc/systemd/system/ovs-vswitchd.service.d/brine-start-after-cpu-count.conf
    - makedirs: True
    - mode: '0644'
    - contents: |
        # Brine (salt/network/init.sls): start ovs-vswitchd once the monotonic clock passes 10 s.
        [Service]
        ExecStartPre=/bin/sh -c 'while [ "$(cut -d. -f1 /proc/uptime)" -lt 11 ]; do sleep 1; done'
{%-       endif %}

brine-dualbond:
  dualbond.present:
    - require:
      - brine_inventory: brine-inventory-valid
{%-       if me.dualbond.backend == 'ovs' %}
      - service: brine-openvswitch
{%-       endif %}
{%-       if me.get('network_config', 'networkd') == 'networkd' %}

{#- The persistent files are systemd-networkd's, and Debian boots with ifupdown: without networkd
    enabled the topology would be gone after the next reboot. Started after the live apply, it
    finds every device already as its files say. #}
brine-dualbond-networkd:
  service.running:
    - name: systemd-networkd
    - enable: True
    - require:
      - dualbond: brine-dualbond

{#- networkd cannot make tc filters, and OVS does not keep OpenFlow rules: the loop guard comes
    back at boot (and, on OVS, whenever ovs-vswitchd restarts) from this unit. #}
brine-dualbond-guard-at-boot:
  service.enabled:
    - name: brine-dualbond-guard.service
    - require:
      - dualbond: brine-dualbond
{%-       endif %}
{%-     endif %}
{%-   endif %}
{%- endif %}
