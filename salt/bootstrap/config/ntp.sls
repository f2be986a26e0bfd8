{#- chrony: follows the upstreams, serves the management network, and keeps serving it (local
    stratum) when the upstreams are unreachable, so the lab's clocks still agree. #}
{%- from 'bootstrap/map.jinja' import bootstrap, lab with context %}
include:
  - bootstrap.lab-valid
{%- if lab %}

bootstrap-ntp-config:
  file.managed:
    - name: {{ bootstrap.ntp.config }}
    - source: salt://bootstrap/files/chrony-server.conf.jinja
    - template: jinja
    - mode: '0644'
    - context:
        lab: {{ lab | json }}
    - check_cmd: chronyd -p -f
    - require:
      - test: bootstrap-lab-valid
{%- endif %}
