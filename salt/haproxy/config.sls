{#- haproxy.cfg from the inventory and the service table (brine_lb.haproxy), checked by
    `haproxy -c` before it replaces the live file; it holds the stats password: 0640
    root:haproxy, no diff in the job's return. ip_nonlocal_bind lets a node without the VIP bind
    it. The drop-in for haproxy.service writes keepalived's track file when HAProxy stops (1)
    and once it is up (0). #}
{%- from 'haproxy/map.jinja' import haproxy, keepalived, lb_here, acme with context %}
include:
  - haproxy.install
  - haproxy.cert
{%- if lb_here %}

haproxy-nonlocal-bind:
  sysctl.present:
    - name: net.ipv4.ip_nonlocal_bind
    - value: 1
    - config: /etc/sysctl.d/60-brine-haproxy.conf

haproxy-track-writer:
  file.managed:
    - name: {{ haproxy.track_writer }}
    - source: salt://haproxy/files/brine-track-file
    - user: root
    - group: root
    - mode: '0755'
    - makedirs: True

haproxy-dropin:
  file.managed:
    - name: {{ haproxy.dropin }}
    - contents: {{ salt['brine_lb.dropin'](keepalived.track_file, haproxy.track_writer) | json }}
    - user: root
    - group: root
    - mode: '0644'
    - makedirs: True
    - require:
      - file: haproxy-track-writer

haproxy-config:
  file.managed:
    - name: {{ haproxy.config }}
    - source: salt://haproxy/files/haproxy.cfg.jinja
    - template: jinja
    - context:
        settings: {{ haproxy | json }}
    - user: root
    - group: {{ haproxy.group }}
    - mode: '0640'
    - makedirs: True
    - show_changes: False
    - check_cmd: {{ haproxy.binary }} -c -q -f
    - require:
      - pkg: haproxy-package
{%- if acme %}
      - module: haproxy-cert-placeholder
{%- endif %}
{%- endif %}
