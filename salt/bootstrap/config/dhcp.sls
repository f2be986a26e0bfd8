{#- The DHCP server's configuration, written only after the daemon's own check accepted it. #}
{%- from 'bootstrap/map.jinja' import bootstrap, dhcp, lab with context %}
include:
  - bootstrap.lab-valid
{%- if lab %}

bootstrap-dhcp-config:
  dhcp_reservations.managed:
    - name: {{ dhcp.config }}
    - server: {{ lab.server }}
    - require:
      - test: bootstrap-lab-valid
{%- if lab.server == 'isc-dhcp' %}

# Serve the management interface only: the home network must never see this DHCP server.
bootstrap-dhcp-interfaces:
  file.managed:
    - name: {{ dhcp.interfaces_file }}
    - contents: |
        # Managed by Salt (Brine): dhcpd serves the management network only.
        INTERFACESv4={{ lab.interface | quote }}
        INTERFACESv6=""
    - mode: '0644'
    - require:
      - test: bootstrap-lab-valid
{%- endif %}
{%- endif %}
