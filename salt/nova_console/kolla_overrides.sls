{#- On the Kolla deployer: one override per compute host (kolla-ansible merges
    <override_dir>/nova/<host>/nova.conf into that host's nova.conf), so the console survives
    `kolla-ansible reconfigure`. Nothing is restarted here: nova_console.compute patches the
    running configuration on each compute host. #}
{%- from 'brine/map.jinja' import check, inventory, me with context %}
{%- from 'nova_console/map.jinja' import nova_console, console_deployment with context %}
include:
  - brine.validate
{%- if check.valid and console_deployment == 'kolla' and 'deployer' in me.get('roles', []) %}
{%-   for minion_id, host in inventory.hosts | dictsort if 'compute' in host.roles %}

brine-nova-console-kolla-override-{{ minion_id }}:
  nova_console.configured:
    - name: {{ nova_console.kolla.override_dir }}/nova/{{ host.hostname }}/nova.conf
    - role: compute
    - minion_id: {{ minion_id }}
    - create: True
    - restart: False
{%-   endfor %}
{%- endif %}
