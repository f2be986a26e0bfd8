{#- Each daemon runs and restarts only when its configuration changed (watch). #}
{%- from 'bootstrap/map.jinja' import bootstrap, dhcp, lab with context %}
include:
  - bootstrap.install
  - bootstrap.config
{%- if lab %}

bootstrap-dhcp-service:
  service.running:
    - name: {{ dhcp.service }}
    - enable: True
    - require:
      - pkg: bootstrap-packages
    - watch:
      - dhcp_reservations: bootstrap-dhcp-config
{%- if lab.server == 'isc-dhcp' %}
      - file: bootstrap-dhcp-interfaces
{%- endif %}

bootstrap-tftp-service:
  service.running:
    - name: {{ bootstrap.tftp.service }}
    - enable: True
    - require:
      - pkg: bootstrap-packages
    - watch:
      - file: bootstrap-tftp-defaults

bootstrap-ntp-service:
  service.running:
    - name: {{ bootstrap.ntp.service }}
    - enable: True
    - require:
      - pkg: bootstrap-packages
    - watch:
      - file: bootstrap-ntp-config

bootstrap-dns-service:
  service.running:
    - name: {{ bootstrap.dns.service }}
    - enable: True
    - require:
      - pkg: bootstrap-packages
    - watch:
      - file: bootstrap-dns-config

bootstrap-proxy-service:
  service.running:
    - name: {{ bootstrap.proxy.service }}
    - enable: True
    - require:
      - pkg: bootstrap-packages
    - watch:
      - file: bootstrap-proxy-config
{%- endif %}
