{#- The deployment user (brine:baseline:deploy): its own account and group, no password (SSH
    keys only), and ~/.ssh/authorized_keys holding exactly the inventory's keys. A user dropped
    from the inventory is not deleted (its files may matter); its sudo rule is (baseline.sudoers). #}
{%- from 'baseline/map.jinja' import baseline, plan, here with context %}
{%- if plan and here and plan.deploy %}
{%-   set deploy = plan.deploy %}
include:
  - brine.validate

brine-baseline-deploy-user:
  user.present:
    - name: {{ deploy.user }}
    - home: {{ deploy.home }}
    - createhome: True
    - shell: {{ deploy.shell }}
    - usergroup: True
    - require:
      - brine_inventory: brine-inventory-valid

brine-baseline-deploy-ssh-dir:
  file.directory:
    - name: {{ deploy.home }}/.ssh
    - user: {{ deploy.user }}
    - group: {{ deploy.user }}
    - mode: '0700'
    - require:
      - user: brine-baseline-deploy-user

brine-baseline-deploy-authorized-keys:
  file.managed:
    - name: {{ deploy.home }}/.ssh/authorized_keys
    - contents: {{ deploy.authorized_keys | json }}
    - user: {{ deploy.user }}
    - group: {{ deploy.user }}
    - mode: '0600'
    - require:
      - file: brine-baseline-deploy-ssh-dir
{%- endif %}
