include:
  - bootstrap.config.dhcp
  - bootstrap.config.tftp
  - bootstrap.config.pxe
  - bootstrap.config.ntp
  - bootstrap.config.dns
  - bootstrap.config.proxy
  - bootstrap.config.pebble
