{#- Keystone's database, its user and schema, on the first controller only (applied by
    salt/orch/keystone.sls, not part of init.sls). Made as MariaDB's root over this node's unix
    socket: root exists only @localhost (salt/galera), the node is HAProxy's Galera writer, and
    the statements replicate to the others. db_sync runs only when `db_sync --check` finds
    work, so a second orchestration changes nothing. #}
{%- from 'keystone/map.jinja' import keystone, first, here with context %}
include:
  - keystone.config
{%- if here and grains.id == first %}

keystone-database:
  brine_keystone_service.database_present:
    - name: {{ keystone.database.name }}
    - settings: {{ keystone | json }}
    - require:
      - pkg: keystone-packages

keystone-schema:
  brine_keystone_service.schema_synced:
    - name: {{ keystone.database.name }}
    - settings: {{ keystone | json }}
    - require:
      - brine_keystone_service: keystone-database
      - file: keystone-config
{%- endif %}
