{#- Apache serving Keystone, gated on the key repositories: running only while both the Fernet
    and the credential repository hold a key Keystone would load (brine_keystone.has_keys),
    stopped otherwise, so a fresh or rebuilt node never serves tokens it cannot make or read.
    The keys arrive from the rotator (salt/orch/keystone.sls: brine_keystone.sync_keys); the
    next apply starts Apache. A changed configuration is a graceful reload (mod_wsgi's daemon
    restarts, requests under way finish). #}
{%- from 'keystone/map.jinja' import keystone, here with context %}
include:
  - keystone.config
{%- if here %}
{%- set repositories = keystone.repositories %}

keystone-apache-running:
  service.running:
    - name: {{ keystone.service }}
    - enable: True
    - reload: True
    - onlyif:
      - fun: brine_keystone.has_keys
        kind: fernet
        path: {{ repositories.fernet }}
      - fun: brine_keystone.has_keys
        kind: credential
        path: {{ repositories.credential }}
    - require:
      - service: keystone-package-service-off
    - watch:
      - file: keystone-config
      - file: keystone-apache-ports
      - file: keystone-apache-default-site-off
      - file: keystone-apache-wsgi-load
      - file: keystone-apache-wsgi-conf
      - file: keystone-site
      - file: keystone-site-enabled

keystone-apache-stopped-without-keys:
  service.dead:
    - name: {{ keystone.service }}
    - enable: False
    - unless:
      - fun: brine_keystone.has_keys
        kind: fernet
        path: {{ repositories.fernet }}
      - fun: brine_keystone.has_keys
        kind: credential
        path: {{ repositories.credential }}
    - require:
      - file: keystone-config
{%- endif %}
