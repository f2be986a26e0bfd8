{#- pebble, the lab's ACME CA (docs/acme.md), on the bootstrap host when the inventory says
    acme:pebble: its own TLS certificate (written once; the CA bundle the ACME runner trusts,
    published in the Salt mine as brine_pebble_certificate), its configuration (ACME API on the
    management address, port 14000; http-01 validated on port 80 of the external FQDN, resolved
    by this host's unbound) and its systemd unit (repeatable runs: no validation sleep, no nonce
    rejected at random). #}
{%- from 'bootstrap/map.jinja' import lab with context %}
{%- from 'brine/map.jinja' import inventory with context %}
include:
  - bootstrap.lab-valid
{%- set acme = inventory.get('acme') or {} %}
{%- if lab and acme.get('pebble') and salt['brine_cert.settings']().get('pebble_host') == grains.id %}

bootstrap-pebble-package:
  pkg.installed:
    - name: pebble

bootstrap-pebble-tls:
  module.run:
    - brine_cert.pebble:
      - action: files
    - unless: test -s /etc/brine/pebble/key.pem -a -s /etc/brine/pebble/cert.pem

bootstrap-pebble-config:
  file.managed:
    - name: /etc/brine/pebble/pebble.json
    - contents: {{ salt['brine_cert.pebble']('config') | json }}
    - mode: '0644'
    - require:
      - module: bootstrap-pebble-tls

bootstrap-pebble-unit:
  file.managed:
    - name: /etc/systemd/system/brine-pebble.service
    - contents: {{ salt['brine_cert.pebble']('unit') | json }}
    - mode: '0644'

bootstrap-pebble-service:
  service.running:
    - name: brine-pebble
    - enable: True
    - watch:
      - file: bootstrap-pebble-config
      - file: bootstrap-pebble-unit
      - module: bootstrap-pebble-tls
    - require:
      - pkg: bootstrap-pebble-package

bootstrap-pebble-mine:
  module.run:
    - mine.send:
      - name: brine_pebble_certificate
      - mine_function: brine_cert.pebble
      - action: certificate
    # sent again only when the mine holds another certificate (or none): no change on a second run
    - unless:
      - fun: brine_cert.pebble_published
    - require:
      - module: bootstrap-pebble-tls
{%- endif %}
