{%- from 'keepalived/map.jinja' import keepalived, lb_role, lb_here with context %}
include:
  - brine.validate
{%- if lb_role and not lb_here %}

{#- A checkout applied on a workstation or a CI runner: render, touch nothing. #}
keepalived-not-this-machine:
  test.succeed_without_changes:
    - name: "keepalived skipped: none of this controller's inventory NICs (by MAC) is on this machine"
{%- elif lb_here %}

keepalived-package:
  pkg.installed:
    - name: {{ keepalived.pkg }}
{%- endif %}
