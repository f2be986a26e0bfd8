base:
  '*':
    - brine
