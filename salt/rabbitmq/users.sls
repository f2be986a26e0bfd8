{#- The OpenStack vhost (default queue type quorum from its creation: RabbitMQ 3.10 cannot
    change it later) and user with the secret rabbitmq_password, made on the seed only: they
    are cluster-wide, and a node that is not yet a member must stay fresh to join
    (salt/orch/rabbitmq.sls). #}
{%- from 'rabbitmq/map.jinja' import cluster, node, seed, here with context %}
include:
  - rabbitmq.service
{%- if here and node == seed %}

rabbitmq-openstack-account:
  brine_rabbitmq.account_present:
    - name: {{ cluster.vhost }}
    - user: {{ cluster.user }}
    - node: {{ node }}
    - require:
      - service: rabbitmq-running
{%- endif %}
