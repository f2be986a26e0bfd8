{#- keepalived: the controllers' VIPs, one VRRP instance per VIP (docs/loadbalancer.md). #}
include:
  - keepalived.install
  - keepalived.config
  - keepalived.service
