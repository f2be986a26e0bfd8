{#- Keystone's key repositories on a controller: the directories only, owned by keystone, 0700,
    so brine_keystone.apply_keys (run by `salt-run brine_keystone.sync_keys`) has them. No state
    here writes, copies or creates a key: the runner alone moves keys (docs/keystone-keys.md).
    The keystone user comes with the package. #}
{%- from 'keystone/map.jinja' import keystone, here with context %}
include:
  - keystone.install
{%- if here %}
{%- for kind, path in keystone.repositories.items() %}

keystone-{{ kind }}-key-repository:
  file.directory:
    - name: {{ path }}
    - user: {{ keystone.user }}
    - group: {{ keystone.group }}
    - mode: '0700'
    - require:
      - pkg: keystone-packages
{%- endfor %}
{%- endif %}
