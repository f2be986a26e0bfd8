{#- The storage role. A placeholder until its issue fills it: it renders, checks the
    inventory and records the role on the host. #}
{%- from 'brine/map.jinja' import settings, check, me with context %}
{%- from 'brine/role.jinja' import role_marker %}
include:
  - brine
{%- if check.valid and 'storage' in me.get('roles', []) %}
{{ role_marker('storage', settings, me) }}
{%- endif %}
