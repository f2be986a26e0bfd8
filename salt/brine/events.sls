{#- The event watchers of this host, from the inventory (docs/events.md): the minion config
    file <config dir>/minion.d/brine-events.conf with
      brine_linkwatch  on hosts with a dual bond (engine, or beacon: brine_settings:events:linkwatch),
                       the bond's NICs and backend written out, so the watcher needs neither
                       pillar nor master when the minion starts;
      brine_filewatch  the watches the host's features ask for in their events.jinja: nova_conf
                       on compute hosts (salt/nova_console/events.jinja), dhcp_log on the
                       bootstrap host (salt/bootstrap/events.jinja: the DHCP server's log file,
                       or journal:dhcpd);
      brine_outbox     the tags the host's features leave in the outbox (their events.jinja's
                       outbox_tags: brine/vip/state from keepalived's notify script,
                       brine/galera/stopped from mariadb's stop hook), sent as signed events;
                       the helper those scripts call (brine_settings:events:outbox_put);
    and a restart of the minion (engines and beacons start with it) only when the file changed
    (which includes the watchers' code changing on the master), in the background once this
    state run has returned. The engine and beacon modules come
    with saltutil.sync_all (a highstate syncs them too, autoload_dynamic_modules). #}
{%- from 'brine/map.jinja' import settings, check, inventory, me with context %}
{%- from 'brine/features.jinja' import features with context %}
include:
  - brine.validate
{%- set events = settings.get('events', {}) %}
{%- set enabled = events.get('enabled', 'auto') %}
{%- if enabled == 'auto' %}
{%-   set enabled = opts.get('file_client') != 'local' %}
{%- endif %}
{%- if check.valid and me and enabled %}
{%-   set engines = [] %}
{%-   set conf = {} %}
{%-   if me.get('dualbond') %}
{%-     set nics = me.dualbond.nics | list %}
{%-     set linkwatch = {'bonds': {'dualbond': {'members': nics, 'backend': me.dualbond.get('backend', 'linux')}},
                         'interfaces': nics} %}
{%-     if events.get('linkwatch', 'engine') == 'beacon' %}
{%-       do conf.update({'beacons': {'brine_linkwatch': [{'interval': 1}, {'bonds': linkwatch.bonds}, {'interfaces': nics}]},
                          'loop_interval': 1}) %}
{%-     else %}
{%-       do engines.append({'brine_linkwatch': linkwatch}) %}
{%-     endif %}
{%-   endif %}
{#-   What the host's features ask for: each one's events.jinja exports the file watches,
      how the engine restores a watched file, and other options of the file watcher. #}
{%-   set watches = {} %}
{%-   set restores = {} %}
{%-   set filewatch = {} %}
{%-   set outbox_tags = [] %}
{%-   for feature in features %}
{%-     set asked = feature ~ '/events.jinja' %}
{%-     if salt['cp.hash_file']('salt://' ~ asked) %}
{%-       import asked as feature_events with context %}
{%-       do watches.update(feature_events.watches) %}
{%-       do restores.update(feature_events.restores) %}
{%-       do filewatch.update(feature_events.filewatch or {}) %}
{%-       do outbox_tags.extend(feature_events.outbox_tags) %}
{%-     endif %}
{%-   endfor %}
{%-   if restores %}
{%-     do filewatch.update({'restore': restores}) %}
{%-   endif %}
{%-   if watches %}
{%-     do engines.append({'brine_filewatch': dict({'watches': watches}, **filewatch)}) %}
{%-   endif %}
{%-   if outbox_tags %}
{%-     do engines.append({'brine_outbox': {'directory': events.outbox, 'tags': outbox_tags | unique | sort}}) %}
{%-   endif %}
{%-   if engines %}
{%-     do conf.update({'engines': engines}) %}
{%-   endif %}
{#-   The code the watchers run (and Brine's library, which they import), as the master serves it:
      an engine (and a beacon's module)
      keeps the code it started with, whatever saltutil.sync_all brings, so a change of that
      code changes this file too and the minion restarts onto it. Masterless, there is no
      salt://_engines to look at: left out. #}
{%-   set code = {} %}
{%-   if conf %}
{%-     for path in ['_engines/brine_linkwatch.py', '_engines/brine_filewatch.py', '_engines/brine_outbox.py', '_beacons/brine_linkwatch.py',
                     '_modules/dualbond.py', '_modules/nova_console.py', '_modules/dhcp_reservations.py',
                     '_modules/brine_sign.py', '_grains/brine_start.py']
                    + salt['cp.list_master'](prefix='_utils/brinelib/') | select('match', '.*[.]py$') | list %}
{%-       set digest = salt['cp.hash_file']('salt://' ~ path) or {} %}
{%-       if digest.get('hsum') %}
{%-         do code.update({path: digest.hsum}) %}
{%-       endif %}
{%-     endfor %}
{%-   endif %}
{%-   if code %}
{%-     do conf.update({'brine_events_code': code}) %}
{%-   endif %}
{#-   The key this minion signs its events with (its own pillar, pillar/brine_events_key.sls),
      and its start event carrying the signature grain: the master acts only on signed events. #}
{%-   set events_key = salt['pillar.get']('brine_events_key') %}
{%-   if events_key %}
{%-     do conf.update({'brine_events_key': events_key, 'start_event_grains': ['brine_start_sig']}) %}
{%-   endif %}
{%-   set conf_dir = salt['file.dirname'](opts['conf_file']) %}

brine-events-outbox-put:
  file.managed:
    - name: {{ events.outbox_put }}
    - source: salt://brine/files/brine-outbox-put.jinja
    - template: jinja
    - context:
        outbox: {{ events.outbox | json }}
    - mode: '0755'
    - makedirs: True

brine-events-restart-script:
  file.managed:
    - name: /usr/local/sbin/brine-restart-minion
    - source: salt://brine/files/restart-minion.sh
    - template: jinja
    - mode: '0755'
    - context:
        service: {{ events.get('minion_service', 'salt-minion') }}
        proc_dir: {{ opts['cachedir'] }}/proc
        max_wait: 900

brine-events-config:
  file.serialize:
    - name: {{ conf_dir }}/minion.d/brine-events.conf
    - serializer: yaml
    - dataset: {{ conf | json }}
    - makedirs: True
    # It holds the minion's signing key: readable by root only, and no diff in the job's return.
    - mode: '0600'
    - show_changes: False

brine-events-restart-minion:
  cmd.run:
    # Not a plain `systemctl restart`: that would kill this state run. A transient unit of its
    # own (it survives the minion's restart) waits until the run has returned, then restarts.
    - name: >-
        systemctl is-active -q brine-restart-minion.service ||
        systemd-run --unit=brine-restart-minion --collect --quiet /usr/local/sbin/brine-restart-minion
    - onchanges:
      - file: brine-events-config
    - require:
      - file: brine-events-restart-script
{%- endif %}
