{#- Common to every host: the inventory check, the host's own inventory facts and its roles on
    disk, the clients of the bootstrap services, the event watchers. #}
{%- from 'brine/map.jinja' import settings, check, me with context %}
include:
  - brine.validate
  - brine.roles
  - brine.clients
  - brine.events
{%- if check.valid and me %}

brine-config-dir:
  file.directory:
    - name: {{ settings.config_dir }}
    - mode: '0755'

brine-host-facts:
  file.serialize:
    - name: {{ settings.config_dir }}/host.json
    - serializer: json
    - dataset: {{ {'minion_id': grains.id, 'hostname': me.hostname, 'roles': me.roles, 'nics': me.nics, 'networks': me.networks} | json }}
    - mode: '0644'
    - require:
      - file: brine-config-dir
{%- endif %}
