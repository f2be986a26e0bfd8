{#- MariaDB Galera cluster formation: `salt-run state.orchestrate orch.galera`.
    1. the galera states on every controller (packages, configuration, health service; they
       never start or bootstrap mariadb);
    2. salt-run brine.galera_form: on a clean slate the first controller in inventory order
       bootstraps and makes the accounts, then the others join one at a time, each waited for
       until Synced; when a cluster runs, the missing nodes join it; anything else (a node
       holding state with no cluster running) is refused: that is brine.galera_recover's job;
    3. the accounts state once more everywhere (no change when replication carried them).
    Each state step waits for a state run already going on its minions (queue: a reactor's
    highstate after a controller rebooted) instead of failing on it. #}
{%- from 'brine/map.jinja' import check, inventory with context %}
{%- set controllers = salt['brine_inventory.controllers']() if check.valid else [] %}
{%- if check.valid and controllers %}

galera-configured:
  salt.state:
    - tgt: {{ controllers | json }}
    - tgt_type: list
    - sls:
      - galera
    - queue: True

galera-formed:
  salt.runner:
    - name: brine.galera_form
    - require:
      - salt: galera-configured

galera-accounts:
  salt.state:
    - tgt: {{ controllers | json }}
    - tgt_type: list
    - sls:
      - galera.users
    - queue: True
    - require:
      - salt: galera-formed
{%- else %}

galera-nothing-to-form:
  test.succeed_without_changes:
    - name: no valid inventory with controllers
{%- endif %}
