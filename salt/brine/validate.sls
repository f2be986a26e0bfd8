{#- Included by every Brine state: stops the whole run, before any change, when the inventory
    is invalid (order 1 runs it first, failhard stops everything after a failure). #}
brine-inventory-valid:
  brine_inventory.valid:
    - order: 1
    - failhard: True
