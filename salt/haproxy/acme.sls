{#- certbot on the ACME runner (the inventory's acme:runner, by default the first controller;
    docs/acme.md): it obtains the external VIP's certificate through HAProxy's ACME route once
    HAProxy runs, and Debian's certbot.timer renews it; each new certificate goes through the
    deploy hook (haproxy.cert). With acme:pebble the CA bundle is the bootstrap host's pebble
    certificate from the Salt mine; another ca_bundle is the operator's file. #}
{%- from 'haproxy/map.jinja' import lb_here, acme with context %}
include:
  - haproxy.service
{%- if lb_here and acme and acme.runner == grains.id %}

acme-certbot-package:
  pkg.installed:
    - name: certbot
{%-   if acme.pebble %}
{%-     set pebble = salt['mine.get'](acme.pebble_host, 'brine_pebble_certificate') %}

{%-     if pebble.get(acme.pebble_host) %}

acme-ca-bundle:
  file.managed:
    - name: {{ acme.ca_bundle }}
    - contents: {{ pebble[acme.pebble_host] | json }}
    - user: root
    - group: root
    - mode: '0644'
    - makedirs: True
    - require_in:
      - cmd: acme-certificate
{%-     else %}

acme-ca-bundle:
  test.fail_without_changes:
    - name: "pebble's certificate is not in the Salt mine yet (brine_pebble_certificate): apply the bootstrap host first"
    - require_in:
      - cmd: acme-certificate
{%-     endif %}
{%-   endif %}

acme-certificate:
  cmd.run:
    - name: {{ salt['brine_cert.certbot_argv']('certonly') | map('quote') | join(' ') }}
    - creates: {{ acme.config_dir }}/renewal/{{ acme.fqdn }}.conf
    # The CA reaches certbot through the external VIP: on a first run keepalived may not have
    # given it to any controller yet.
    - retry:
        attempts: 6
        interval: 10
{%-   if acme.ca_bundle %}
    - env:
      - REQUESTS_CA_BUNDLE: {{ acme.ca_bundle | json }}
{%-   endif %}
    - require:
      - pkg: acme-certbot-package
      - service: haproxy-service
      - file: haproxy-cert-deploy-hook

acme-certbot-timer:
  service.running:
    - name: certbot.timer
    - enable: True
    - require:
      - cmd: acme-certificate
{%-   if acme.ca_bundle %}

# certbot.timer's renewals trust the same CA bundle.
acme-certbot-ca-dropin:
  file.managed:
    - name: /etc/systemd/system/certbot.service.d/brine-ca-bundle.conf
    - contents: |
        # Managed by Brine (salt/haproxy): certbot trusts the lab CA's bundle (docs/acme.md).
        [Service]
        Environment=REQUESTS_CA_BUNDLE={{ acme.ca_bundle }}
    - mode: '0644'
    - makedirs: True
{%-   endif %}
{%- endif %}
