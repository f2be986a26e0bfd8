{#- The host baseline of every host (docs/baseline.md): host name and FQDN, /etc/hosts with every
    inventory host and VIP, the time zone, the deployment user with its SSH keys and sudo rule.
    Only on the inventory's own machine (brine_inventory.this_machine); elsewhere one state
    says why nothing was done. #}
{%- from 'baseline/map.jinja' import plan, here with context %}
include:
  - brine.validate
{%- if plan and here %}
  - baseline.hostname
  - baseline.hosts
  - baseline.timezone
  - baseline.user
  - baseline.sudoers
{%- elif plan %}

brine-baseline-not-this-machine:
  test.succeed_without_changes:
    - name: "host baseline skipped: this is not {{ plan.minion_id }}'s machine (none of its inventory NICs' MACs is here)"
{%- endif %}
