{#- salt/minion/<id>/start. Nothing is decided here: the runner validates
    the whole event in Python (envelope id, every payload field) and acts only on the minion
    that sent it. See _runners/brine.py and docs/events.md. #}
brine-minion_start:
  runner.brine.on_minion_start:
    - args:
      - tag: {{ tag | json }}
      - data: {{ data | json }}
