{#- HAProxy: the controllers' load balancer on the VIPs (docs/loadbalancer.md); the external
    VIP's certificate from an ACME CA (docs/acme.md). #}
include:
  - haproxy.install
  - haproxy.config
  - haproxy.service
  - haproxy.acme
  - haproxy.cert_sync
