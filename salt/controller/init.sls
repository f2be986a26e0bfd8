{#- The controller role: the host's role marker, the noVNC console proxy, MariaDB Galera, the
    load balancer (HAProxy) and its VIPs (keepalived; after HAProxy, whose drop-in writes
    keepalived's track file). #}
{%- from 'brine/map.jinja' import settings, check, me with context %}
{%- from 'brine/role.jinja' import role_marker %}
include:
  - brine
  - controller.console
  - galera
  - haproxy
  - keepalived
{%- if check.valid and 'controller' in me.get('roles', []) %}
{{ role_marker('controller', settings, me) }}
{%- endif %}
