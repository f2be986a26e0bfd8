{#- brine/net/... from the brine_linkwatch engine or beacon. Nothing is decided here: the runner validates
    the whole event in Python (envelope id, every payload field) and acts only on the minion
    that sent it. See _runners/brine.py and docs/events.md. #}
brine-link:
  runner.brine.on_link:
    - args:
      - tag: {{ tag | json }}
      - data: {{ data | json }}
