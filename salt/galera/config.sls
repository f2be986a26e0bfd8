{#- The server's configuration, bound to this node's management address; the SST credentials in
    their own 0640 root:mysql file; mariadb.service's drop-in (no restart by systemd, the stop
    reported to the master). A changed configuration is not applied by restarting mariadb here:
    a rolling restart is the operator's (one node at a time, each waited for until Synced). #}
{%- from 'galera/map.jinja' import galera, here, address, peers, cluster with context %}
{%- from 'brine/map.jinja' import me, settings with context %}
include:
  - galera.install
{%- if here %}

galera-check-script:
  file.managed:
    - name: {{ galera.check_script }}
    - mode: '0755'
    - contents: |
        #!/bin/sh
        # Managed by Salt (Brine: salt/galera). Checks a MariaDB option file with mariadbd's own
        # parser (unknown variables, wsrep settings) without starting a server.
        exec /usr/sbin/mariadbd --defaults-file="$1" --user=mysql --help --verbose >/dev/null
    - require:
      - pkg: galera-packages

galera-config:
  file.managed:
    - name: {{ galera.config_file }}
    - mode: '0644'
    - contents: {{ salt['brine_galera.render_config'](grains.id, address, peers, cluster_name=cluster.cluster_name,
                     sst_method=cluster.sst_method, buffer_pool_size=galera.buffer_pool_size,
                     port=galera.port, gcache_size=galera.gcache_size) | json }}
    - check_cmd: {{ galera.check_script }}
    - require:
      - file: galera-check-script

galera-sst-auth:
  file.managed:
    - name: {{ galera.sst_auth_file }}
    - user: root
    - group: mysql
    - mode: '0640'
    - show_changes: False
    - contents: {{ salt['brine_galera.render_sst_auth'](galera.users.sst, salt['brine_secrets.get']('galera_sst_password')) | json }}
    - require:
      - pkg: galera-packages

galera-stopped-hook:
  file.managed:
    - name: {{ galera.stopped_hook }}
    - mode: '0755'
    - contents: |
        #!/bin/sh
        # Managed by Salt (Brine: salt/galera). mariadb.service's ExecStopPost: tells the master
        # that mariadb stopped and how (systemd's $SERVICE_RESULT, $EXIT_CODE, $EXIT_STATUS) as a
        # signed brine/galera/stopped event; the master decides (reactor/galera.sls). The event
        # goes to the minion's outbox (its brine_outbox engine sends it), so the stop never waits.
        result=$(printf %s "${SERVICE_RESULT:-}" | tr -cd 'a-z-' | cut -c1-32)
        code=$(printf %s "${EXIT_CODE:-}" | tr -cd 'a-z' | cut -c1-16)
        status=$(printf %s "${EXIT_STATUS:-}" | tr -cd 'A-Za-z0-9' | cut -c1-16)
        exec {{ settings.events.outbox_put | quote }} brine/galera/stopped \
          "{\"result\": \"$result\", \"exit_code\": \"$code\", \"exit_status\": \"$status\"}"

{#- Restart=no: Debian's Restart=on-abnormal would start a killed node again 5 s later, racing a
    full-outage recovery that is reading every node's position; a node that stopped alone is
    started again by the master (salt-run brine.galera_recover: "rejoin"). #}
galera-dropin:
  file.managed:
    - name: {{ galera.dropin }}
    - makedirs: True
    - mode: '0644'
    - contents: |
        # Managed by Salt (Brine: salt/galera)
        [Service]
        Restart=no
        ExecStopPost=-+{{ galera.stopped_hook }}
    - require:
      - file: galera-stopped-hook

galera-systemd-reload:
  module.run:
    - service.systemctl_reload: []
    - onchanges:
      - file: galera-dropin
{%- endif %}
