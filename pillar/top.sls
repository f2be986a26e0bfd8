base:
  '*':
    - brine
    - brine_events_key
