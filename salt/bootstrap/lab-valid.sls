{#- Stops the bootstrap states, before any change, when the inventory cannot be served by DHCP
    (each problem named by host and field); brine.validate has already checked the rest. #}
{%- from 'bootstrap/map.jinja' import lab_check with context %}
bootstrap-lab-valid:
{%- if lab_check.valid %}
  test.succeed_without_changes:
    - comment: The inventory can be served by DHCP
{%- else %}
  test.fail_without_changes:
    - comment: {{ (["The DHCP reservations have problems; nothing was applied:"] + lab_check.errors) | join("\n  - ") | json }}
    - failhard: True
{%- endif %}
    - order: 2
