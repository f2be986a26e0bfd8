{#- Roles come from the inventory (pillar brine:hosts:<minion id>:roles). Unknown roles are
    left out here and reported by brine.validate, which stops the run before any change. #}
{%- import_yaml 'brine/roles.yaml' as known %}
{%- set roles = salt['pillar.get']('brine:hosts:' ~ grains.id ~ ':roles', []) %}
base:
  '*':
    - brine
    - baseline
    - network
{%- for role in known.roles if roles is iterable and roles is not string and role in roles %}
    - {{ role }}
{%- endfor %}
