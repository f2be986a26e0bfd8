{#- /etc/memcached.conf from the inventory (brinelib.memcached.render_config): TCP on the
    management address only, no UDP, the memory size and connection limit. #}
{%- from 'memcached/map.jinja' import memcached, cache, address, here with context %}
include:
  - memcached.install
{%- if here %}

memcached-config:
  file.managed:
    - name: {{ memcached.config_file }}
    - mode: '0644'
    - contents: {{ salt['brine_memcached.render_config'](address, port=cache.port, memory_mb=cache.memory_mb,
                                                         max_connections=cache.max_connections) | json }}
    - require:
      - pkg: memcached-packages
{%- endif %}
