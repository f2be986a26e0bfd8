{#- The ACME runner's certificate on the other controllers (docs/acme.md): their pillar's
    brine_cert:pem (pillar/brine_cert.sls, what the runner's deploy hook pushed to the master)
    installed as the external VIP's crt, through the deploy hook's checks and swap, when that
    file holds another serial (before the runner's first push: nothing to do). The reactor of
    brine/cert/renewed applies this file alone after each renewal: no includes, so that it runs
    this one state and nothing else (the renewal's 60 s budget). In the highstate
    haproxy/init.sls lists it after haproxy.service, so a rebuilt controller serves the current
    certificate once HAProxy runs. #}
{%- from 'haproxy/map.jinja' import haproxy, lb_here, acme with context %}
{%- if lb_here and acme and acme.runner != grains.id %}

haproxy-cert-sync:
  brine_cert.synced:
    - name: {{ acme.crt | json }}
    - config: {{ haproxy.config | json }}
    - stats_socket: {{ haproxy.stats_socket | json }}
    - haproxy: {{ haproxy.binary | json }}
{%- endif %}
