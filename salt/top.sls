{#- Every host runs its features (brine/features.jinja: the common ones, then its roles'). #}
{%- from 'brine/features.jinja' import features with context %}
base:
  '*':
{%- for feature in features %}
    - {{ feature }}
{%- endfor %}
