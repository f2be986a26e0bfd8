{#- Squid: the only way management hosts reach package mirrors, PyPI and git hosts, so the
    management network never talks to the home network directly. #}
{%- from 'bootstrap/map.jinja' import bootstrap, lab with context %}
include:
  - bootstrap.lab-valid
{%- if lab %}

bootstrap-proxy-config:
  file.managed:
    - name: {{ bootstrap.proxy.config }}
    - source: salt://bootstrap/files/squid.conf.jinja
    - template: jinja
    - mode: '0644'
    - context:
        lab: {{ lab | json }}
        proxy: {{ bootstrap.proxy | json }}
    - check_cmd: squid -k parse -f
    - require:
      - test: bootstrap-lab-valid
{%- endif %}
