{#- The compute role: the host's role marker and nova-compute's VNC console (compute.console,
    which the nova.conf reactor also applies on its own). #}
{%- from 'brine/map.jinja' import settings, check, me with context %}
{%- from 'brine/role.jinja' import role_marker %}
include:
  - brine
  - compute.console
{%- if check.valid and 'compute' in me.get('roles', []) %}
{{ role_marker('compute', settings, me) }}
{%- endif %}
