{#- The VNC console of nova-compute: the options in nova.conf, set from the inventory, every
    other line of the file left alone; nova-compute restarted only when they changed.
    Cheap on purpose: the reactor for "nova.conf rewritten by another tool" re-applies it
    (state.apply compute.console, which includes this file). It runs before anything that
    creates instances: an instance created without VNC never gets a console until it is
    rebuilt. #}
{%- from 'brine/map.jinja' import settings, check, me with context %}
{%- from 'nova_console/map.jinja' import nova_console, console_paths with context %}
include:
  - brine.validate
{%- if check.valid and 'compute' in me.get('roles', []) %}

brine-nova-console:
  nova_console.configured:
    - name: {{ console_paths.compute_conf }}
    - role: compute
    - service: {{ console_paths.compute_service }}
    - marker_dir: {{ settings.config_dir }}/restart-pending
    - libvirt_uri: {{ nova_console.libvirt_uri }}
{%- endif %}
