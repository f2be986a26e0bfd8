{#- The accounts (root's password, the SST and monitoring users), made on a Synced node only;
    account statements replicate to the others. On a node that is not Synced (no cluster yet)
    the state says so and changes nothing: salt/orch/galera.sls makes them on the bootstrap
    node before any other joins. #}
{%- from 'galera/map.jinja' import galera, here with context %}
include:
  - galera.service
{%- if here %}

galera-accounts:
  brine_galera.accounts_present:
    - name: galera
    - require:
      - service: galera-health-running
{%- endif %}
