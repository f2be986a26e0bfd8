{#- The nova VNC console (docs/nova-console.md), one state file per role it serves; each renders
    its work only on hosts with that role:
      nova_console.compute          nova-compute's VNC options in nova.conf (compute)
      nova_console.proxy            the noVNC proxy's options, and its service (controller)
      nova_console.kolla_overrides  Kolla's per-host nova.conf overrides (deployer) #}
include:
  - nova_console.compute
  - nova_console.proxy
  - nova_console.kolla_overrides
