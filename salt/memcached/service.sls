{#- memcached running; restarted when its configuration changes (a cache: Keystone refills it). #}
{%- from 'memcached/map.jinja' import memcached, here with context %}
include:
  - memcached.config
{%- if here %}

memcached-running:
  service.running:
    - name: {{ memcached.service }}
    - enable: True
    - watch:
      - file: memcached-config
{%- endif %}
