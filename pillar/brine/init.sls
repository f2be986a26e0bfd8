{#- The whole lab inventory, under one key, identical for every minion: states pick their own
    host by minion id through the brine_inventory execution module. Point `brine_inventory_file`
    (minion or master config) at another YAML file under the pillar roots to use your own lab. #}
{%- set inventory_file = salt['config.get']('brine_inventory_file', 'brine/example-lab.yaml') %}
{%- import_yaml inventory_file as inventory %}
brine: {{ inventory | json }}
