{#- The storage role: every disk of the host's inventory entry with a `kolla` key gets its Kolla
    Ceph bootstrap partition names (kolla_disks.labeled; the plan is kolla_disks.plan).
    Disks without `kolla` are not Kolla's and are never touched. #}
{%- from 'brine/map.jinja' import check, me with context %}
{%- from 'storage/map.jinja' import storage with context %}
include:
  - brine
{%- if check.valid and 'storage' in me.get('roles', []) %}
{%-   for disk_name, disk in me.get('disks', {}) | dictsort %}
{%-     if disk.kolla is defined %}

kolla-disk-{{ disk_name }}:
  kolla_disks.labeled:
    - name: {{ disk_name }}
    - absent: {{ storage.absent_disks }}
{%-     endif %}
{%-   endfor %}
{%- endif %}
