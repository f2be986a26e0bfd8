{#- The name the nova.conf reactor and the brine runner apply (state.apply compute.console):
    nova-compute's VNC console, which lives in the nova_console feature. #}
include:
  - nova_console.compute
