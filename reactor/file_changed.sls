{#- brine/file/changed from the brine_filewatch engine. Nothing is decided here: the runner validates
    the whole event in Python (envelope id, every payload field) and acts only on the minion
    that sent it. See _runners/brine.py and docs/events.md. #}
brine-file_changed:
  runner.brine.on_file_changed:
    - args:
      - tag: {{ tag | json }}
      - data: {{ data | json }}
