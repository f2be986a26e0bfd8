{#- The admin user, project and role and the identity endpoints (public on the external VIP's
    FQDN, internal and admin on the internal one), on the first controller only (applied by
    salt/orch/keystone.sls after the keys and the service). keystone-manage bootstrap runs
    only when a token from this node's Keystone does not show them already. #}
{%- from 'keystone/map.jinja' import keystone, first, here with context %}
include:
  - keystone.service
{%- if here and grains.id == first %}

keystone-bootstrap:
  brine_keystone_service.bootstrapped:
    - name: {{ keystone.admin.service }}
    - settings: {{ keystone | json }}
    - require:
      - service: keystone-apache-running
{%- endif %}
