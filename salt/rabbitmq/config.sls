{#- Everything rabbitmq-server reads at its first start, laid down before the package
    (rabbitmq.install requires this): Debian's postinst starts the server at once, keeps an
    existing cookie (it replaces only an Erlang-generated one, 20 capitals), and the node's
    name is fixed by its first start. The account is Debian's, made here first so the cookie
    can be owned by it. A changed configuration is not applied by restarting rabbitmq here:
    a rolling restart is the operator's (one node at a time). #}
{%- from 'rabbitmq/map.jinja' import rabbitmq, cluster, node, address, here with context %}
include:
  - brine.validate
{%- if here %}

rabbitmq-group:
  group.present:
    - name: {{ rabbitmq.group }}
    - system: True

rabbitmq-user:
  user.present:
    - name: {{ rabbitmq.user }}
    - gid: {{ rabbitmq.group }}
    - home: {{ rabbitmq.home }}
    - createhome: False
    - shell: /usr/sbin/nologin
    - system: True
    - fullname: RabbitMQ messaging server
    - require:
      - group: rabbitmq-group

rabbitmq-home:
  file.directory:
    - name: {{ rabbitmq.home }}
    - user: {{ rabbitmq.user }}
    - group: {{ rabbitmq.group }}
    - mode: '0755'
    - require:
      - user: rabbitmq-user

rabbitmq-erlang-cookie:
  file.managed:
    - name: {{ rabbitmq.cookie_file }}
    - user: {{ rabbitmq.user }}
    - group: {{ rabbitmq.group }}
    - mode: '0400'
    - show_changes: False
    - contents: {{ salt['brine_secrets.get']('rabbitmq_erlang_cookie') | json }}
    - require:
      - file: rabbitmq-home

rabbitmq-config:
  file.managed:
    - name: {{ rabbitmq.config_file }}
    - makedirs: True
    - user: root
    - group: {{ rabbitmq.group }}
    - mode: '0640'
    - contents: {{ salt['brine_rabbitmq.render_config'](address, port=cluster.port) | json }}
    - require:
      - group: rabbitmq-group

rabbitmq-env:
  file.managed:
    - name: {{ rabbitmq.env_file }}
    - makedirs: True
    - user: root
    - group: {{ rabbitmq.group }}
    - mode: '0640'
    - contents: {{ salt['brine_rabbitmq.render_env'](node, address, port=cluster.port, dist_port=cluster.dist_port) | json }}
    - require:
      - group: rabbitmq-group

{#- epmd answers on loopback (the node registers there) and on the management address (the
    peers and rabbitmqctl look rabbit@<host> up there), not on every interface as Debian's
    epmd.socket does. Restarted only when the drop-in changes, which is before rabbitmq's
    first start (rabbitmq.install requires this file). #}
rabbitmq-epmd-dropin:
  file.managed:
    - name: {{ rabbitmq.epmd_dropin }}
    - makedirs: True
    - mode: '0644'
    - contents: |
        # Managed by Salt (Brine: salt/rabbitmq)
        [Socket]
        ListenStream=
        ListenStream=127.0.0.1:{{ rabbitmq.epmd_port }}
        ListenStream={{ address }}:{{ rabbitmq.epmd_port }}
        BindIPv6Only=default
        # at boot the socket may come before the management address is configured
        FreeBind=true

rabbitmq-epmd-reload:
  module.run:
    - service.systemctl_reload: []
    - onchanges:
      - file: rabbitmq-epmd-dropin

rabbitmq-epmd-socket-restart:
  module.run:
    - service.restart:
      - name: epmd.socket
    - onchanges:
      - file: rabbitmq-epmd-dropin
    - require:
      - module: rabbitmq-epmd-reload
{%- endif %}
