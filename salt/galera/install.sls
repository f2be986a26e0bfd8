{%- from 'galera/map.jinja' import galera, here with context %}
include:
  - brine.validate
{%- if here %}

galera-packages:
  pkg.installed:
    - pkgs: {{ galera.packages | json }}

{#- Debian's postinst starts a stand-alone server (wsrep off) on a fresh install: stop it, so
    the cluster forms from a clean, stopped node (salt/orch/galera.sls). #}
galera-stock-server-stopped:
  service.dead:
    - name: {{ galera.service }}
    - onchanges:
      - pkg: galera-packages
{%- endif %}
