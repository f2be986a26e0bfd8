{#- RabbitMQ cluster formation: `salt-run state.orchestrate orch.rabbitmq`.
    1. the rabbitmq states on every controller (cookie and configuration before the package,
       the service, the partition check; the seed makes the OpenStack vhost and user);
    2. rabbitmq.cluster on each other controller, one at a time in inventory order, each after
       the previous one succeeded: a fresh stand-alone node joins the seed (the first
       controller), a member is left as it is (never reset), a node holding data of its own
       fails naming it and stops the orchestration there. A second run changes nothing.
    Each state step waits for a state run already going on its minions (queue: a reactor's
    highstate after a controller rebooted) instead of failing on it. #}
{%- from 'brine/map.jinja' import check, inventory with context %}
{%- set controllers = salt['brine_inventory.controllers']() if check.valid else [] %}
{%- if check.valid and controllers %}

rabbitmq-configured:
  salt.state:
    - tgt: {{ controllers | json }}
    - tgt_type: list
    - sls:
      - rabbitmq
    - queue: True
{%- for name in controllers[1:] %}

rabbitmq-joined-{{ name }}:
  salt.state:
    - tgt: {{ name | json }}
    - sls:
      - rabbitmq.cluster
    - queue: True
    - require:
      - salt: {{ 'rabbitmq-configured' if loop.first else 'rabbitmq-joined-' ~ loop.previtem }}
{%- endfor %}
{%- else %}

rabbitmq-nothing-to-form:
  test.succeed_without_changes:
    - name: no valid inventory with controllers
{%- endif %}
