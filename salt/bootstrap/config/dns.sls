{#- Unbound: the management network's caching resolver, answering for the lab's own names. #}
{%- from 'bootstrap/map.jinja' import bootstrap, lab with context %}
{%- from 'brine/map.jinja' import inventory with context %}
include:
  - bootstrap.lab-valid
{%- if lab %}

bootstrap-dns-config:
  file.managed:
    - name: {{ bootstrap.dns.config }}
    - source: salt://bootstrap/files/unbound.conf.jinja
    - template: jinja
    - mode: '0644'
    - context:
        lab: {{ lab | json }}
        vips: {{ inventory.get('vips', {}) | json }}
    - check_cmd: unbound-checkconf
    - require:
      - test: bootstrap-lab-valid
{%- endif %}
