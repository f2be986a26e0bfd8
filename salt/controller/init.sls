{#- The controller role: the host's role marker, the noVNC console proxy and MariaDB Galera. #}
{%- from 'brine/map.jinja' import settings, check, me with context %}
{%- from 'brine/role.jinja' import role_marker %}
include:
  - brine
  - controller.console
  - galera
{%- if check.valid and 'controller' in me.get('roles', []) %}
{{ role_marker('controller', settings, me) }}
{%- endif %}
