{#- keepalived.conf from the inventory (brine_lb.keepalived), checked by `keepalived -t` before
    it replaces the live file: a config keepalived refuses never lands. It holds the VRRP
    password: root only, no diff in the job's return. The notify script leaves each state change
    in the minion's outbox, which its brine_outbox engine sends as a brine/vip/state event; the track file's directory exists now and at every boot. #}
{%- from 'keepalived/map.jinja' import keepalived, lb_here with context %}
{%- from 'brine/map.jinja' import settings with context %}
include:
  - keepalived.install
{%- if lb_here %}
{%-   set track_dir = salt['file.dirname'](keepalived.track_file) %}

keepalived-notify-script:
  file.managed:
    - name: {{ keepalived.notify }}
    - source: salt://keepalived/files/brine-vip-notify.jinja
    - template: jinja
    - context:
        outbox_put: {{ settings.events.outbox_put | json }}
    - user: root
    - group: root
    - mode: '0755'
    - makedirs: True

keepalived-track-dir:
  file.directory:
    - name: {{ track_dir }}
    - user: root
    - group: root
    - mode: '0755'

keepalived-track-dir-at-boot:
  file.managed:
    - name: /etc/tmpfiles.d/brine-lb.conf
    - mode: '0644'
    - contents: |
        # Managed by Brine (salt/keepalived): keepalived's track file directory (docs/loadbalancer.md).
        d {{ track_dir }} 0755 root root -

keepalived-config:
  file.managed:
    - name: {{ keepalived.config }}
    - source: salt://keepalived/files/keepalived.conf.jinja
    - template: jinja
    - context:
        settings: {{ keepalived | json }}
    - user: root
    - group: root
    - mode: '0600'
    - makedirs: True
    - show_changes: False
    - check_cmd: {{ keepalived.binary }} -t -f
    - require:
      - pkg: keepalived-package
      - file: keepalived-notify-script
      - file: keepalived-track-dir
{%- endif %}
