{#- The host's roles recorded on it (<config dir>/roles.d/<role>), so an operator (and
    `salt -G`) can see what a host is. #}
{%- from 'brine/map.jinja' import settings, check, me with context %}
include:
  - brine.validate
{%- if check.valid %}
{%-   for role in me.get('roles', []) %}

brine-role-{{ role }}:
  file.managed:
    - name: {{ settings.config_dir }}/roles.d/{{ role }}
    - contents: "{{ role }}"
    - makedirs: True
    - mode: '0644'
{%-   endfor %}
{%- endif %}
