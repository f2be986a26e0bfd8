{#- The resolved settings of this host (template-formula's _mapdata): `salt-call state.apply
    brine.mapdata` writes, for each of the host's features that has a map.jinja, the settings
    its map exports under the feature's own name (defaults.yaml merged with pillar
    brine_settings:<feature>), to brine_settings:mapdata (0600). Every value whose key names a
    secret is masked (brine_mapdata.masked). Not part of the highstate: run it to see or diff
    what a host gets. #}
{%- from 'brine/map.jinja' import settings with context %}
{%- from 'brine/features.jinja' import features with context %}
{%- set mapdata = {} %}
{%- for feature in features %}
{%-   set map_file = feature ~ '/map.jinja' %}
{%-   if salt['cp.hash_file']('salt://' ~ map_file) %}
{%-     import map_file as feature_map with context %}
{%-     do mapdata.update({feature: feature_map[feature]}) %}
{%-   endif %}
{%- endfor %}

brine-mapdata:
  file.serialize:
    - name: {{ settings.mapdata }}
    - serializer: yaml
    - dataset: {{ salt['brine_mapdata.masked'](mapdata) | json }}
    - makedirs: True
    - mode: '0600'
    - show_changes: False
