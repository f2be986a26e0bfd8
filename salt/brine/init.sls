{#- Common to every host: the inventory check and the host's own inventory facts on disk. #}
{%- from 'brine/map.jinja' import settings, check, me with context %}
include:
  - brine.validate
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
