{#- The PXE menu and one unattended install per reserved host. A MAC without a reservation gets
    the default menu, which boots the local disk: only inventory hosts are ever reinstalled. #}
{%- from 'bootstrap/map.jinja' import bootstrap, lab with context %}
include:
  - bootstrap.lab-valid
{%- if lab %}
{%- set root = bootstrap.tftp.root %}
{#- One state writes every PXE file (_states/brine_bootstrap.py): the templates render from the
    lab's settings without the reservation list, each host's file from its own reservation. #}
{%- set settings_only = {} %}
{%- for key, value in lab.items() if key != 'reservations' %}
{%-   do settings_only.update({key: value}) %}
{%- endfor %}
{%- set settings_json = settings_only | json %}

bootstrap-pxe-files:
  brine_bootstrap.pxe_files:
    - name: {{ root }}
    - lab: {{ settings_json }}
    - reservations: {{ lab.reservations | json }}
    - require:
      - test: bootstrap-lab-valid
{%- endif %}
