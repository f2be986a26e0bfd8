{%- from 'bootstrap/map.jinja' import bootstrap, dhcp, lab with context %}
include:
  - bootstrap.lab-valid
{%- if lab %}

bootstrap-packages:
  pkg.installed:
    - pkgs:
      - {{ dhcp.package }}
{%- for package in bootstrap.tftp.packages %}
      - {{ package }}
{%- endfor %}
      - {{ bootstrap.ntp.package }}
      - {{ bootstrap.dns.package }}
      - {{ bootstrap.dns.trust_anchor_package }}
      - {{ bootstrap.proxy.package }}
    - require:
      - test: bootstrap-lab-valid
{%- endif %}
