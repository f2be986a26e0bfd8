{#- Answers the minion that asked, and only that minion: the target is the envelope's id,
    set by the master from the minion's authenticated connection, never the event payload. #}
brine-echo-reply:
  local.event.send:
    - tgt: {{ data['id'] | json }}
    - args:
      - tag: brine/echo/reply
