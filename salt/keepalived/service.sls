{#- keepalived runs, and reloads (SIGHUP: the instances keep their state) when its config changed. #}
{%- from 'keepalived/map.jinja' import keepalived, lb_here with context %}
include:
  - keepalived.config
{%- if lb_here %}

keepalived-service:
  service.running:
    - name: {{ keepalived.service }}
    - enable: True
    - reload: True
    - watch:
      - file: keepalived-config
{%- endif %}
