{#- The ACME runner's certificate on the other controllers (docs/acme.md): their pillar's
    brine_cert:pem (pillar/brine_cert.sls, what the runner's deploy hook pushed to the master)
    installed as the external VIP's crt, through the deploy hook's checks and swap, when that
    file holds another serial. The reactor of brine/cert/renewed applies this after each renewal;
    the highstate applies it too, so a rebuilt controller serves the current certificate. #}
{%- from 'haproxy/map.jinja' import haproxy, lb_here, acme with context %}
include:
  - haproxy.cert
  - haproxy.service
{%- if lb_here and acme and acme.runner != grains.id and salt['pillar.get']('brine_cert:pem') %}

haproxy-cert-sync:
  brine_cert.synced:
    - name: {{ acme.crt | json }}
    - config: {{ haproxy.config | json }}
    - stats_socket: {{ haproxy.stats_socket | json }}
    - haproxy: {{ haproxy.binary | json }}
    - require:
      - service: haproxy-service
      - module: haproxy-cert-placeholder
{%- endif %}
