{#- brine/dhcp/unknown from the bootstrap host's brine_filewatch engine. Nothing is decided here: the runner validates
    the whole event in Python (envelope id, every payload field) and acts only on the minion
    that sent it. See _runners/brine.py and docs/events.md. #}
brine-dhcp_unknown:
  runner.brine.on_dhcp_unknown:
    - args:
      - tag: {{ tag | json }}
      - data: {{ data | json }}
