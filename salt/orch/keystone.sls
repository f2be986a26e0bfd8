{#- Keystone on the controllers: `salt-run state.orchestrate orch.keystone` (after orch.galera
    and orch.rabbitmq; lab/converge.py runs them in that order).
    1. the keystone states on every controller (packages, keystone.conf, the Apache site;
       Apache starts only where the key repositories hold keys);
    2. on the first controller in inventory order: the database and its user, made over its
       own unix socket (MariaDB's root exists only @localhost; the statements replicate),
       then `keystone-manage db_sync`, only when `db_sync --check` finds work: once;
    3. salt-run brine_keystone.sync_keys: the rotator's Fernet and credential keys set up and
       relayed to every other controller;
    4. keystone.service on every controller: Apache now finds keys and serves;
    5. on the first controller: `keystone-manage bootstrap` (the admin password in its
       environment) unless a token from its Keystone already shows the endpoints.
    A second run changes nothing.
    Each state step waits for a state run already going on its minions (queue: a reactor's
    highstate after a controller rebooted) instead of failing on it. #}
{%- from 'brine/map.jinja' import check, inventory with context %}
{%- set controllers = salt['brine_inventory.controllers']() if check.valid else [] %}
{%- if check.valid and controllers %}
{%- set first = controllers[0] %}

keystone-configured:
  salt.state:
    - tgt: {{ controllers | json }}
    - tgt_type: list
    - sls:
      - keystone
    - queue: True

keystone-database:
  salt.state:
    - tgt: {{ first | json }}
    - sls:
      - keystone.database
    - queue: True
    - require:
      - salt: keystone-configured

keystone-keys:
  salt.runner:
    - name: brine_keystone.sync_keys
    - require:
      - salt: keystone-database

keystone-serving:
  salt.state:
    - tgt: {{ controllers | json }}
    - tgt_type: list
    - sls:
      - keystone.service
    - queue: True
    - require:
      - salt: keystone-keys

keystone-bootstrap:
  salt.state:
    - tgt: {{ first | json }}
    - sls:
      - keystone.bootstrap
    - queue: True
    - require:
      - salt: keystone-serving
{%- else %}

keystone-nothing-to-do:
  test.succeed_without_changes:
    - name: no valid inventory with controllers
{%- endif %}
