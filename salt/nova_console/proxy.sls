{#- The noVNC proxy of the controllers: nova-novncproxy listens on the host's management
    address (the VIPs' load balancer sends the console URL's traffic there); restarted only
    when its options changed. #}
{%- from 'brine/map.jinja' import settings, check, me with context %}
{%- from 'nova_console/map.jinja' import console_deployment, console_paths with context %}
include:
  - brine.validate
{%- if check.valid and 'controller' in me.get('roles', []) %}

brine-nova-novncproxy:
  nova_console.configured:
    - name: {{ console_paths.proxy_conf }}
    - role: proxy
    - service: {{ console_paths.proxy_service }}
    - marker_dir: {{ settings.config_dir }}/restart-pending
{%- endif %}
{%- if check.valid and 'controller' in me.get('roles', []) and console_deployment == 'packages' %}

{#- Kolla runs the proxy container itself; a packaged proxy is enabled once it is installed. #}
brine-nova-novncproxy-running:
  service.running:
    - name: {{ console_paths.proxy_service }}
    - enable: True
    - onlyif:
      - fun: file.file_exists
        path: {{ console_paths.proxy_conf }}
    - require:
      - nova_console: brine-nova-novncproxy
{%- endif %}
