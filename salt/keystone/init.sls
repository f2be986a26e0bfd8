{#- Keystone on a controller: the package (kept off any database by debconf, its own uwsgi
    service off), keystone.conf and the Apache site, Apache serving it only while the key
    repositories hold keys. The database, db_sync and bootstrap are the orchestration's
    (salt/orch/keystone.sls: once, on the first controller). #}
include:
  - keystone.install
  - keystone.keys
  - keystone.config
  - keystone.service
