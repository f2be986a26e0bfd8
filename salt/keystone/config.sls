{#- keystone.conf (rendered whole from the inventory, brinelib.keystone; it holds the database
    password: 0640 root:keystone, never in a diff) and Apache: Keystone's site on this
    controller's management address, mod_wsgi on, the distribution's default site off.
    ports.conf says no Listen of its own: each site binds only what it names, so Apache never
    holds a port on an address HAProxy binds (the VIPs, ip_nonlocal_bind). #}
{%- from 'keystone/map.jinja' import keystone, here with context %}
include:
  - keystone.install
{%- if here %}
{%- set apache = keystone.apache_dir %}

keystone-config:
  file.managed:
    - name: {{ keystone.config_file }}
    - user: root
    - group: {{ keystone.group }}
    - mode: '0640'
    - show_changes: False
    - contents: {{ salt['brine_keystone_service.config'](keystone) | json }}
    - require:
      - pkg: keystone-packages

keystone-apache-ports:
  file.managed:
    - name: {{ apache }}/ports.conf
    - mode: '0644'
    - contents: |
        # Managed by Salt (Brine: salt/keystone). No Listen here: each site names its own
        # address and port (Keystone: sites-available/{{ keystone.site }}.conf).
    - require:
      - pkg: keystone-packages

keystone-apache-default-site-off:
  file.absent:
    - names:
      - {{ apache }}/sites-enabled/000-default.conf
      - {{ apache }}/sites-enabled/default-ssl.conf
      {#- a keystone site shipped by a package (Ubuntu's, older Debian's): Brine's serves it #}
      - {{ apache }}/sites-enabled/keystone.conf
      - {{ apache }}/sites-enabled/wsgi-keystone.conf
    - require:
      - pkg: keystone-packages

{%- for part in ('load', 'conf') %}

keystone-apache-wsgi-{{ part }}:
  file.symlink:
    - name: {{ apache }}/mods-enabled/wsgi.{{ part }}
    - target: ../mods-available/wsgi.{{ part }}
    - require:
      - pkg: keystone-packages
{%- endfor %}

keystone-site:
  file.managed:
    - name: {{ apache }}/sites-available/{{ keystone.site }}.conf
    - mode: '0644'
    - contents: {{ salt['brine_keystone_service.site'](keystone) | json }}
    - require:
      - pkg: keystone-packages

keystone-site-enabled:
  file.symlink:
    - name: {{ apache }}/sites-enabled/{{ keystone.site }}.conf
    - target: ../sites-available/{{ keystone.site }}.conf
    - require:
      - file: keystone-site
{%- endif %}
