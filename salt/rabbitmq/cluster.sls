{#- This controller in the seed's cluster (the first controller of the inventory): a fresh
    stand-alone node joins it, a member is left as it is, a node holding data of its own fails
    the state naming it. Not in init.sls: salt/orch/rabbitmq.sls applies it one node at a time. #}
{%- from 'rabbitmq/map.jinja' import node, seed, here with context %}
include:
  - rabbitmq.service
{%- if here %}

rabbitmq-cluster-joined:
  brine_rabbitmq.joined:
    - name: {{ seed }}
    - node: {{ node }}
    - require:
      - service: rabbitmq-running
{%- endif %}
