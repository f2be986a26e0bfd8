{#- The health service HAProxy checks on port 9200 (always running, whatever mariadb does), and
    mariadb enabled so that a rebooted controller joins its cluster. mariadb is never started
    here: a plain start of a node with no running cluster cannot form one (only
    galera_new_cluster bootstraps), and the orchestration and the recovery runner start it in
    order. #}
{%- from 'galera/map.jinja' import galera, here, address with context %}
include:
  - galera.config
{%- if here %}

galera-health-options:
  file.managed:
    - name: {{ galera.health.options_file }}
    - user: root
    - group: root
    - mode: '0600'
    - show_changes: False
    - contents: {{ salt['brine_galera.render_client_options'](galera.users.monitor, salt['brine_secrets.get']('galera_monitor_password'), galera.health.socket) | json }}
    - require:
      - pkg: galera-packages

galera-health-script:
  file.managed:
    - name: {{ galera.health.script }}
    - source: salt://galera/files/brine-galera-health.py
    - mode: '0755'

galera-health-unit:
  file.managed:
    - name: /etc/systemd/system/{{ galera.health.service }}.service
    - source: salt://galera/files/brine-galera-health.service.jinja
    - template: jinja
    - mode: '0644'
    - context:
        script: {{ galera.health.script }}
        address: {{ address }}
        port: {{ galera.health.port }}
        options_file: {{ galera.health.options_file }}

galera-health-running:
  service.running:
    - name: {{ galera.health.service }}
    - enable: True
    - watch:
      - file: galera-health-options
      - file: galera-health-script
      - file: galera-health-unit

galera-mariadb-enabled:
  service.enabled:
    - name: {{ galera.service }}
    - require:
      - file: galera-config
      - file: galera-sst-auth
      - file: galera-dropin
{%- endif %}
