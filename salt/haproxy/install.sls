{%- from 'haproxy/map.jinja' import haproxy, lb_role, lb_here with context %}
include:
  - brine.validate
{%- if lb_role and not lb_here %}

haproxy-not-this-machine:
  test.succeed_without_changes:
    - name: "HAProxy skipped: none of this controller's inventory NICs (by MAC) is on this machine"
{%- elif lb_here %}

haproxy-package:
  pkg.installed:
    - name: {{ haproxy.pkg }}
{%- endif %}
