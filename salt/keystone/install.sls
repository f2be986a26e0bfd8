{#- The packages, after debconf's answers: Debian's keystone postinst would otherwise be free
    to set up a database, run db_sync, make Fernet keys and bootstrap (its defaults say no; the
    answers make sure). Its postinst starts its own uwsgi server on *:5000 (keystone.service),
    which would hold the port Apache serves Keystone on: stopped and disabled. #}
{%- from 'keystone/map.jinja' import keystone, here with context %}
include:
  - brine.validate
{%- if here %}

keystone-preseed:
  file.managed:
    - name: {{ keystone.preseed_file }}
    - makedirs: True
    - mode: '0644'
    - contents: {{ salt['brine_keystone_service.preseed']() | json }}

keystone-debconf:
  cmd.run:
    - name: debconf-set-selections {{ keystone.preseed_file }}
    - onchanges:
      - file: keystone-preseed

keystone-packages:
  pkg.installed:
    - pkgs: {{ keystone.packages | json }}
    - require:
      - cmd: keystone-debconf

keystone-package-service-off:
  service.dead:
    - name: {{ keystone.package_service }}
    - enable: False
    - require:
      - pkg: keystone-packages
{%- endif %}
