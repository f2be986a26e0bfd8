{#- Run by the master (reactor: an unsigned start, brinelib.decisions.decide_signin) for the one
    minion named in pillar brine_signin_minion: sync Brine's extensions, then apply brine.events,
    which writes the minion's signing key from its own pillar and restarts it. Its next start is
    signed and gets the highstate. The id was checked by the runner before this was started. #}
{%- set minion = pillar.get('brine_signin_minion') %}
{%- if minion %}
brine-signin-sync:
  salt.function:
    - name: saltutil.sync_all
    - tgt: {{ [minion] | json }}
    - tgt_type: list

brine-signin-events:
  salt.state:
    - tgt: {{ [minion] | json }}
    - tgt_type: list
    - sls: brine.events
    - require:
      - salt: brine-signin-sync
{%- else %}
brine-signin-nothing:
  test.succeed_without_changes:
    - name: no minion named in pillar brine_signin_minion
{%- endif %}
