{#- HAProxy: the controllers' load balancer on the VIPs (docs/loadbalancer.md). #}
include:
  - haproxy.install
  - haproxy.config
  - haproxy.service
