{#- The bootstrap role: DHCP with a reservation per inventory NIC, TFTP with a PXE menu and a
    preseed per host, chrony serving time, Unbound caching DNS and Squid proxying apt/pip/git
    for the management network, each listening on the management network only. #}
{%- from 'brine/map.jinja' import check, me with context %}
include:
  - brine
{%- if check.valid and 'bootstrap' in me.get('roles', []) %}
  - bootstrap.install
  - bootstrap.config
  - bootstrap.service
{%- endif %}
