{#- The host name: /etc/hostname for the next boot (the short name, as Debian keeps it), and the
    running name set only when it differs (sethostname(2): no hostnamectl, which needs
    systemd-hostnamed on D-Bus). The FQDN comes from /etc/hosts (baseline.hosts), where the
    host's own line reads `<address> <fqdn> <hostname>`. #}
{%- from 'baseline/map.jinja' import baseline, plan, here with context %}
{%- if plan and here %}
include:
  - brine.validate

brine-baseline-hostname-file:
  file.managed:
    - name: {{ baseline.hostname_file }}
    - contents: {{ plan.hostname | json }}
    - user: root
    - group: root
    - mode: '0644'
    - require:
      - brine_inventory: brine-inventory-valid

brine-baseline-hostname:
  brine_baseline.hostname:
    - name: {{ plan.hostname | json }}
    - require:
      - file: brine-baseline-hostname-file
{%- endif %}
