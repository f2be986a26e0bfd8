{#- The deployment user's sudo rule, /etc/sudoers.d/brine-deploy (mode 0440, the same file the
    preseed writes). visudo checks the candidate before it replaces the live file: a drop-in sudo
    would refuse never lands, so sudo keeps working. Without a deployment user in the inventory
    the drop-in is removed. #}
{%- from 'baseline/map.jinja' import baseline, plan, here with context %}
{%- if plan and here %}
include:
  - brine.validate
{%-   if plan.deploy %}
  - baseline.user

brine-baseline-sudo:
  pkg.installed:
    - name: {{ baseline.sudo_package }}
    - require:
      - brine_inventory: brine-inventory-valid

brine-baseline-sudoers:
  file.managed:
    - name: {{ baseline.sudoers_file }}
    - contents: {{ plan.deploy.sudoers | json }}
    - user: root
    - group: root
    - mode: '0440'
    - check_cmd: {{ baseline.visudo }}
    - require:
      - pkg: brine-baseline-sudo
      - user: brine-baseline-deploy-user
{%-   else %}

brine-baseline-sudoers:
  file.absent:
    - name: {{ baseline.sudoers_file }}
    - require:
      - brine_inventory: brine-inventory-valid
{%-   endif %}
{%- endif %}
