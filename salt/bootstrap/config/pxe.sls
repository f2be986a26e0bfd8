{#- The PXE menu and one unattended install per reserved host. A MAC without a reservation gets
    the default menu, which boots the local disk: only inventory hosts are ever reinstalled. #}
{%- from 'bootstrap/map.jinja' import bootstrap, lab with context %}
include:
  - bootstrap.lab-valid
{%- if lab %}
{%- set root = bootstrap.tftp.root %}
{#- The menus and preseeds read the lab's settings, never its reservation list: each file gets
    the settings without it, rendered once, so the SLS grows with the hosts, not their square. #}
{%- set settings_only = {} %}
{%- for key, value in lab.items() if key != 'reservations' %}
{%-   do settings_only.update({key: value}) %}
{%- endfor %}
{%- set settings_json = settings_only | json %}

bootstrap-pxe-menu:
  file.managed:
    - name: {{ root }}/pxelinux.cfg/default
    - source: salt://bootstrap/files/pxelinux-default.jinja
    - template: jinja
    - makedirs: True
    - mode: '0644'
    - context:
        lab: {{ settings_json }}
    - require:
      - test: bootstrap-lab-valid
{%- for host in lab.reservations if host.host != lab.host %}

bootstrap-pxe-{{ host.host }}:
  file.managed:
    - name: {{ root }}/pxelinux.cfg/01-{{ host.mac | replace(':', '-') }}
    - source: salt://bootstrap/files/pxelinux-host.jinja
    - template: jinja
    - makedirs: True
    - mode: '0644'
    - context:
        lab: {{ settings_json }}
        host: {{ host | json }}
    - require:
      - test: bootstrap-lab-valid

bootstrap-preseed-{{ host.host }}:
  file.managed:
    - name: {{ root }}/preseed/{{ host.hostname }}.cfg
    - source: salt://bootstrap/files/preseed.cfg.jinja
    - template: jinja
    - makedirs: True
    - mode: '0644'
    - context:
        lab: {{ settings_json }}
        host: {{ host | json }}
    # debconf's own parser: a preseed it cannot read would stop the installer half-way.
    - check_cmd: debconf-set-selections --checkonly
    - require:
      - test: bootstrap-lab-valid
{%- endfor %}
{%- endif %}
