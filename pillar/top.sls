base:
  '*':
    - brine
    - brine_events_key
    - brine_secrets
    - brine_cert
