{#- Keystone's key repositories on a controller: the directories only, owned by keystone, 0700,
    so brine_keystone.apply_keys (run by `salt-run brine_keystone.sync_keys`) has them. No state
    here writes, copies or creates a key: the runner alone moves keys (docs/keystone-keys.md).
    The keystone user comes with the package: include this after keystone.install. The paths
    are _modules/brine_keystone.py's DEFAULT_PATHS (Debian's key_repository defaults). #}
{%- for kind, path in {'fernet': '/etc/keystone/fernet-keys',
                       'credential': '/etc/keystone/credential-keys'}.items() %}

keystone-{{ kind }}-key-repository:
  file.directory:
    - name: {{ path }}
    - user: keystone
    - group: keystone
    - mode: '0700'
{%- endfor %}
