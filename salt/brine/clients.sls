{#- Every management host but the bootstrap host: time from the bootstrap host's chrony, and
    apt, pip and git through its Squid, so the management network needs no route to the home
    network. Applied only on a machine that owns the host's management NIC (its MAC is one of
    this machine's): pointing apt at a proxy that is out of reach would break it, and a
    machine that merely claims a minion id must not be reconfigured. #}
{%- from 'brine/map.jinja' import check, me with context %}
{%- set lab = {} %}
{%- set dhcp_check = {'valid': True} %}
{%- if check.valid and me and 'bootstrap' not in me.roles %}
{%-   set dhcp_check = salt['dhcp_reservations.validate']() %}
{%-   if dhcp_check.valid %}
{%-     set lab = salt['brine_bootstrap.bootstrap_settings']() %}
{%-   endif %}
{%- endif %}
{%- if not dhcp_check.valid %}

# The bootstrap host's run fails on these and lists them; here they only explain the skip.
brine-clients-no-bootstrap-services:
  test.succeed_without_changes:
    - comment: {{ (["Client settings (chrony, apt/pip/git proxy) not applied: the bootstrap services cannot be rendered:"] + dhcp_check.errors) | join("\n  - ") | json }}
{%- endif %}
{%- set mine = lab.get('reservations', []) | selectattr('host', 'equalto', grains.id) | list %}
{%- if mine %}
{%-   set mac = mine[0].mac %}
{%-   set macs = (grains.get('hwaddr_interfaces', {}).values() | map('lower') | list) %}
{%-   if mac in macs %}

brine-clients-chrony:
  pkg.installed:
    - name: chrony

brine-clients-chrony-config:
  file.managed:
    - name: /etc/chrony/chrony.conf
    - contents: |
        # Managed by Salt (Brine): time from the bootstrap host only.
        server {{ lab.address }} iburst
        driftfile /var/lib/chrony/chrony.drift
        makestep 1 3
        rtcsync
    - mode: '0644'
    - check_cmd: chronyd -p -f
    - require:
      - pkg: brine-clients-chrony

brine-clients-chrony-service:
  service.running:
    - name: chrony
    - enable: True
    - watch:
      - file: brine-clients-chrony-config

brine-clients-apt-proxy:
  file.managed:
    - name: /etc/apt/apt.conf.d/80brine-proxy
    - contents: |
        // Managed by Salt (Brine): packages come through the bootstrap host's Squid.
        Acquire::http::Proxy "{{ lab.proxy.url }}";
        Acquire::https::Proxy "{{ lab.proxy.url }}";
    - mode: '0644'

# pip (also when Salt's pip.installed runs it) reads the system-wide XDG configuration.
brine-clients-pip-proxy:
  file.managed:
    - name: /etc/xdg/pip/pip.conf
    - makedirs: True
    - contents: |
        # Managed by Salt (Brine)
        [global]
        proxy = {{ lab.proxy.url }}
    - mode: '0644'

# git, curl and pip in login shells honour the proxy variables.
brine-clients-shell-proxy:
  file.managed:
    - name: /etc/profile.d/brine-proxy.sh
    - contents: |
        # Managed by Salt (Brine): the management network reaches the outside through Squid.
        export http_proxy={{ lab.proxy.url | quote }} https_proxy={{ lab.proxy.url | quote }}
        export HTTP_PROXY={{ lab.proxy.url | quote }} HTTPS_PROXY={{ lab.proxy.url | quote }}
        export no_proxy={{ ("localhost,127.0.0.1,." ~ lab.domain ~ "," ~ lab.cidr) | quote }}
    - mode: '0644'
{%-   else %}

brine-clients-not-on-management-network:
  test.succeed_without_changes:
    - comment: >-
        Client settings (chrony, apt/pip/git proxy) not applied: this machine has no NIC with
        {{ mac }}, the inventory's management NIC of {{ grains.id }}.
{%-   endif %}
{%- endif %}
