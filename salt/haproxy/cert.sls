{#- The external VIP's certificate (docs/acme.md), when it has an fqdn: a self-signed
    placeholder (0600 root, written once, never over a certificate) so that `haproxy -c` passes
    and HAProxy starts before the first ACME certificate; and certbot's deploy hook, which
    checks each new certificate and swaps it into the running HAProxy (on the ACME runner, then
    hands it to the other controllers: haproxy.cert_sync). #}
{%- from 'haproxy/map.jinja' import haproxy, lb_here, acme with context %}
include:
  - haproxy.install
{%- if lb_here and acme %}

haproxy-cert-placeholder:
  module.run:
    - brine_cert.placeholder: []
    - unless: test -e {{ acme.crt | quote }}
    - require:
      - pkg: haproxy-package

haproxy-cert-deploy-hook:
  file.managed:
    - name: {{ acme.hook }}
    - source: salt://haproxy/files/brine-cert-deploy.jinja
    - template: jinja
    - context:
        salt_call: {{ salt['brine_lb.salt_call']() | json }}
        fqdn: {{ acme.fqdn | json }}
        crt: {{ acme.crt | json }}
        config: {{ haproxy.config | json }}
        stats_socket: {{ haproxy.stats_socket | json }}
        publish: {{ (acme.runner == grains.id) | json }}
    - user: root
    - group: root
    - mode: '0755'
    - makedirs: True
{%- endif %}
