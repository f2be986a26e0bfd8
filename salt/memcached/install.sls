{%- from 'memcached/map.jinja' import memcached, here with context %}
include:
  - brine.validate
{%- if here %}

memcached-packages:
  pkg.installed:
    - pkgs: {{ memcached.packages | json }}
{%- endif %}
