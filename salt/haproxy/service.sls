{#- HAProxy runs, and reloads when its config changed (Debian's unit: master-worker reload,
    established connections kept). A changed drop-in restarts it once, so that its
    ExecStartPost writes the track file keepalived reads (Salt reloads systemd's units first). #}
{%- from 'haproxy/map.jinja' import haproxy, lb_here with context %}
include:
  - haproxy.config
{%- if lb_here %}

haproxy-service:
  service.running:
    - name: {{ haproxy.service }}
    - enable: True
    - reload: True
    - watch:
      - file: haproxy-config
    - require:
      - sysctl: haproxy-nonlocal-bind
      - file: haproxy-dropin

haproxy-restart-for-dropin:
  module.run:
    - service.restart:
      - name: {{ haproxy.service }}
    - onchanges:
      - file: haproxy-dropin
    - require:
      - service: haproxy-service
{%- endif %}
