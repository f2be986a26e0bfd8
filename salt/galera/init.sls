{#- MariaDB Galera on a controller: packages, configuration, the health service for HAProxy
    and the accounts. Never starts or bootstraps mariadb: cluster formation is the
    orchestration salt/orch/galera.sls, full-outage recovery salt-run brine.galera_recover. #}
include:
  - galera.install
  - galera.config
  - galera.service
  - galera.users
