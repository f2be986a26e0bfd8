{#- /etc/hosts, whole, from brine_baseline.hosts_file: Debian's loopback lines, every inventory
    host as `<address> <fqdn> <hostname>` (its address on brine:baseline:hosts_network), every
    VIP as `<address> <fqdn>`. RabbitMQ and Galera resolve their peers through it. #}
{%- from 'baseline/map.jinja' import baseline, plan, here with context %}
{%- if plan and here %}
include:
  - brine.validate

brine-baseline-hosts:
  file.managed:
    - name: {{ baseline.hosts_file }}
    - contents: {{ plan.hosts | json }}
    - user: root
    - group: root
    - mode: '0644'
    - require:
      - brine_inventory: brine-inventory-valid
{%- endif %}
