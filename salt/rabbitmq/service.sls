{#- rabbitmq-server enabled and running (a rebooted controller rejoins its cluster by itself),
    and the partition check: a systemd timer on every controller runs
    files/brine-rabbitmq-partitions.py, which sends a signed brine/rabbitmq/partition when this
    node's partitions list changes (docs/rabbitmq.md says why a timer). #}
{%- from 'rabbitmq/map.jinja' import rabbitmq, node, here with context %}
include:
  - rabbitmq.install
{%- if here %}
{%- set salt_call = salt['file.join'](salt['file.dirname'](grains.pythonexecutable), 'salt-call') %}

rabbitmq-running:
  service.running:
    - name: {{ rabbitmq.service }}
    - enable: True
    - require:
      - pkg: rabbitmq-packages

rabbitmq-partitions-script:
  file.managed:
    - name: {{ rabbitmq.partitions.script }}
    - source: salt://rabbitmq/files/brine-rabbitmq-partitions.py
    - mode: '0755'

rabbitmq-partitions-service:
  file.managed:
    - name: /etc/systemd/system/{{ rabbitmq.partitions.unit }}.service
    - mode: '0644'
    - contents: |
        # Managed by Salt (Brine: salt/rabbitmq)
        [Unit]
        Description=Brine: report a change of RabbitMQ's partitions list to the master
        After=rabbitmq-server.service

        [Service]
        Type=oneshot
        ExecStart={{ rabbitmq.partitions.script }} --node {{ node }} --state {{ rabbitmq.partitions.state_file }} --salt-call {{ salt_call }}

rabbitmq-partitions-timer:
  file.managed:
    - name: /etc/systemd/system/{{ rabbitmq.partitions.unit }}.timer
    - mode: '0644'
    - contents: |
        # Managed by Salt (Brine: salt/rabbitmq)
        [Unit]
        Description=Brine: RabbitMQ partition check every {{ rabbitmq.partitions.every }}

        [Timer]
        OnActiveSec={{ rabbitmq.partitions.every }}
        OnUnitActiveSec={{ rabbitmq.partitions.every }}
        AccuracySec=1s

        [Install]
        WantedBy=timers.target

rabbitmq-partitions-reload:
  module.run:
    - service.systemctl_reload: []
    - onchanges:
      - file: rabbitmq-partitions-service
      - file: rabbitmq-partitions-timer

rabbitmq-partitions-timer-running:
  service.running:
    - name: {{ rabbitmq.partitions.unit }}.timer
    - enable: True
    - require:
      - module: rabbitmq-partitions-reload
      - file: rabbitmq-partitions-script
      - service: rabbitmq-running
    - watch:
      - file: rabbitmq-partitions-timer
{%- endif %}
