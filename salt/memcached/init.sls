{#- memcached on a controller (Keystone's token cache): the package, /etc/memcached.conf on the
    management address only, the service. #}
include:
  - memcached.install
  - memcached.config
  - memcached.service
