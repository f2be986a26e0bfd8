{#- The package, after the cookie and configuration (rabbitmq.config): its postinst starts
    the server, which must start as the node it will be. #}
{%- from 'rabbitmq/map.jinja' import rabbitmq, here with context %}
include:
  - rabbitmq.config
{%- if here %}

rabbitmq-packages:
  pkg.installed:
    - pkgs: {{ rabbitmq.packages | json }}
    - require:
      - file: rabbitmq-erlang-cookie
      - file: rabbitmq-config
      - file: rabbitmq-env
      - module: rabbitmq-epmd-socket-restart
{%- endif %}
