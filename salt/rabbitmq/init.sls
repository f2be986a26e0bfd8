{#- RabbitMQ on a controller: the Erlang cookie and configuration (before the package, so the
    first start already has them), the package, the service, the partition check, and on the
    seed the OpenStack vhost and user. Never joins a cluster: formation is the orchestration
    salt/orch/rabbitmq.sls (one node at a time). #}
include:
  - rabbitmq.config
  - rabbitmq.install
  - rabbitmq.service
  - rabbitmq.users
