{#- The registry feature. A placeholder until its issue fills it: it renders and checks the
    inventory (the host's role is recorded by brine.roles). #}
include:
  - brine.validate
