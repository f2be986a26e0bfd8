{#- The time zone: /etc/localtime a symlink into the zoneinfo database and /etc/timezone naming
    it, which is what `timedatectl set-timezone` and Debian's tzdata write. Not timezone.system:
    Salt's timezone module goes through timedatectl whenever it exists (systemd-timedated on
    D-Bus) and also manages the hardware clock, which a UML guest does not have. #}
{%- from 'baseline/map.jinja' import baseline, plan, here with context %}
{%- if plan and here %}
{%-   set zonefile = baseline.zoneinfo ~ '/' ~ plan.timezone %}
include:
  - brine.validate

{#- A zone this host's tzdata lacks fails here, before /etc/localtime would dangle. #}
brine-baseline-zoneinfo:
  file.exists:
    - name: {{ zonefile | json }}
    - require:
      - brine_inventory: brine-inventory-valid

brine-baseline-localtime:
  file.symlink:
    - name: {{ baseline.localtime }}
    - target: {{ zonefile | json }}
    - force: True
    - require:
      - file: brine-baseline-zoneinfo

brine-baseline-timezone-file:
  file.managed:
    - name: {{ baseline.timezone_file }}
    - contents: {{ plan.timezone | json }}
    - user: root
    - group: root
    - mode: '0644'
    - require:
      - file: brine-baseline-zoneinfo
{%- endif %}
