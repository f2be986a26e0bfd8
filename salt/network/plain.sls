{#- Hosts without a dual bond (the bootstrap host): each inventory network the host is on is
    carried by one plain NIC, tagged when the network has a VLAN id. Written as systemd-networkd
    files, matched by the NIC's MAC, so the kernel's name for it does not matter and networkd
    leaves every interface it is not given alone. Addresses only: routes are not managed. #}
{%- from 'brine/map.jinja' import settings, check, inventory, me with context %}
{%- if check.valid and me and not me.get('dualbond') and me.get('networks') %}
{%-   set present_macs = [] %}
{%-   for name, iface in salt['network.interfaces']().items() %}
{%-     do present_macs.append((iface.get('hwaddr') or '') | lower) %}
{%-   endfor %}
{%-   set networkd_dir = settings.get('networkd_dir', '/etc/systemd/network') %}
{%-   set by_nic = {} %}
{%-   for net_name, att in me.networks | dictsort %}
{%-     do by_nic.setdefault(att.nic, []).append((net_name, att, inventory.networks[net_name])) %}
{%-   endfor %}
{%-   set matched = [] %}
{%-   for nic in by_nic if me.nics[nic].mac in present_macs %}{% do matched.append(nic) %}{% endfor %}
{%-   if not matched %}
brine-network-not-this-machine:
  test.succeed_without_changes:
    - name: "plain NICs skipped: none of {{ by_nic | join(', ') }} (by MAC) exists on this machine"
{%-   else %}
{%-     for nic in matched %}
{%-       set attachments = by_nic[nic] %}
{%-       set mtu = attachments | map(attribute='2.mtu') | max %}

brine-network-{{ nic }}-link:
  file.managed:
    - name: {{ networkd_dir }}/20-brine-{{ nic }}.network
    - makedirs: True
    - mode: '0644'
    - contents: |
        # Managed by Brine (salt/network/plain.sls): the inventory's {{ nic }}.
        [Match]
        MACAddress={{ me.nics[nic].mac }}

        [Link]
        MTUBytes={{ mtu }}

        [Network]
        LinkLocalAddressing=no
        ConfigureWithoutCarrier=yes
{%-       for net_name, att, net in attachments %}
{%-         if net.vlan %}
        VLAN={{ nic }}.{{ net.vlan }}
{%-         elif att.address is defined %}
        Address={{ att.address }}/{{ net.cidr.split('/')[1] }}
{%-         endif %}
{%-       endfor %}
    - watch_in:
      - service: brine-networkd
{%-       for net_name, att, net in attachments if net.vlan %}

brine-network-{{ nic }}-vlan{{ net.vlan }}-netdev:
  file.managed:
    - name: {{ networkd_dir }}/20-brine-{{ nic }}.{{ net.vlan }}.netdev
    - makedirs: True
    - mode: '0644'
    - contents: |
        # Managed by Brine (salt/network/plain.sls): network {{ net_name }} on {{ nic }}.
        [NetDev]
        Name={{ nic }}.{{ net.vlan }}
        Kind=vlan
        MTUBytes={{ net.mtu }}

        [VLAN]
        Id={{ net.vlan }}
    - watch_in:
      - service: brine-networkd

brine-network-{{ nic }}-vlan{{ net.vlan }}-address:
  file.managed:
    - name: {{ networkd_dir }}/20-brine-{{ nic }}.{{ net.vlan }}.network
    - makedirs: True
    - mode: '0644'
    - contents: |
        # Managed by Brine (salt/network/plain.sls): network {{ net_name }} on {{ nic }}.
        [Match]
        Name={{ nic }}.{{ net.vlan }}

        [Network]
        LinkLocalAddressing=no
        ConfigureWithoutCarrier=yes
{%-         if att.address is defined %}
        Address={{ att.address }}/{{ net.cidr.split('/')[1] }}
{%-         endif %}
    - watch_in:
      - service: brine-networkd
{%-       endfor %}
{%-     endfor %}

brine-networkd:
  service.running:
    - name: systemd-networkd
    - enable: True
{%-     for nic in matched %}
{%-       for net_name, att, net in by_nic[nic] if att.address is defined %}

{#- networkd configures asynchronously; the daemons of later states bind these addresses. #}
brine-network-{{ net_name }}-address-up:
  loop.until_no_eval:
    - name: network.ip_addrs
    - expected: {{ att.address }}
    - compare_operator: contains
    - period: 0.5
    - timeout: 30
    - require:
      - service: brine-networkd
{%-       endfor %}
{%-     endfor %}
{%-   endif %}
{%- endif %}
