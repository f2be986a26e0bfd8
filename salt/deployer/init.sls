{#- The deployer role: the role marker, and Kolla's per-host nova.conf overrides so the VNC
    console survives `kolla-ansible reconfigure` (compute.kolla_overrides). The rest of the
    Kolla deployer comes with its own issue. #}
{%- from 'brine/map.jinja' import settings, check, me with context %}
{%- from 'brine/role.jinja' import role_marker %}
include:
  - brine
  - compute.kolla_overrides
{%- if check.valid and 'deployer' in me.get('roles', []) %}
{{ role_marker('deployer', settings, me) }}
{%- endif %}
