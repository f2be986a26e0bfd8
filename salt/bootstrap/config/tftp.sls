{#- tftpd-hpa on the bootstrap address only, and the boot loaders in its root. #}
{%- from 'bootstrap/map.jinja' import bootstrap, lab with context %}
include:
  - bootstrap.lab-valid
{%- if lab %}

bootstrap-tftp-defaults:
  file.managed:
    - name: {{ bootstrap.tftp.defaults_file }}
    - contents: |
        # Managed by Salt (Brine): TFTP on the management address only.
        TFTP_USERNAME="tftp"
        TFTP_DIRECTORY={{ bootstrap.tftp.root | quote }}
        TFTP_ADDRESS={{ (lab.address ~ ":69") | quote }}
        TFTP_OPTIONS="--secure"
    - mode: '0644'
    - require:
      - test: bootstrap-lab-valid
{%- for name, source in bootstrap.tftp.loaders | dictsort %}

bootstrap-tftp-{{ name }}:
  file.managed:
    - name: {{ bootstrap.tftp.root }}/{{ name }}
    - source: {{ source }}
    - skip_verify: True
    - makedirs: True
    - mode: '0644'
    # The loaders come with the packages bootstrap.install installs (skipped in test mode
    # before they are installed).
    - onlyif:
      - fun: file.file_exists
        path: {{ source }}
    - require:
      - test: bootstrap-lab-valid
{%- endfor %}
{%- endif %}
