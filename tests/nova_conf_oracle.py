"""
The independent judge of the nova console tests: oslo.config itself.

- :func:`oslo_sections` parses a file with oslo.config's own ConfigParser (the one nova uses);
- :func:`nova_vnc_values` registers the VNC options the way nova registers them (current nova:
  ``nova/conf/vnc.py``, deprecated names included; Icehouse: the flat ``[DEFAULT]`` flags) and
  returns the values nova would run with.
"""

from oslo_config import cfg


def oslo_sections(path):
    """``{normalized group: {key: [values]}}`` as oslo.config's parser reads ``path``."""
    sections, normalized = {}, {}
    parser = cfg.ConfigParser(str(path), sections)
    parser._add_normalized(normalized)
    parser.parse()
    return normalized


def _current_nova_opts():
    # As in nova/conf/vnc.py (2024.1): the [vnc] group, with the names older releases used.
    return [
        cfg.BoolOpt("enabled", default=True, deprecated_group="DEFAULT", deprecated_name="vnc_enabled"),
        cfg.HostAddressOpt(
            "server_listen",
            default="127.0.0.1",
            deprecated_opts=[
                cfg.DeprecatedOpt("vncserver_listen", group="DEFAULT"),
                cfg.DeprecatedOpt("vncserver_listen", group="vnc"),
            ],
        ),
        cfg.HostAddressOpt(
            "server_proxyclient_address",
            default="127.0.0.1",
            deprecated_opts=[
                cfg.DeprecatedOpt("vncserver_proxyclient_address", group="DEFAULT"),
                cfg.DeprecatedOpt("vncserver_proxyclient_address", group="vnc"),
            ],
        ),
        cfg.URIOpt("novncproxy_base_url", default="http://127.0.0.1:6080/vnc_auto.html", deprecated_group="DEFAULT"),
        cfg.StrOpt("keymap", default="en-us", deprecated_group="DEFAULT", deprecated_name="vnc_keymap"),
        cfg.StrOpt("novncproxy_host", default="0.0.0.0", deprecated_group="DEFAULT"),
        cfg.PortOpt("novncproxy_port", default=6080, deprecated_group="DEFAULT"),
    ]


def _icehouse_opts():
    # As in Icehouse's nova/vnc/__init__.py: flat [DEFAULT] flags.
    return [
        cfg.BoolOpt("vnc_enabled", default=True),
        cfg.StrOpt("vncserver_listen", default="127.0.0.1"),
        cfg.StrOpt("vncserver_proxyclient_address", default="127.0.0.1"),
        cfg.StrOpt("novncproxy_base_url", default="http://127.0.0.1:6080/vnc_auto.html"),
    ]


def nova_vnc_values(path, release="2024.1"):
    """The VNC option values nova (of ``release``: ``2024.1`` or ``icehouse``) reads from ``path``."""
    conf = cfg.ConfigOpts()
    if release == "icehouse":
        conf.register_opts(_icehouse_opts())
        conf(args=[], project="nova", default_config_files=[str(path)], default_config_dirs=[])
        return {
            "enabled": conf.vnc_enabled,
            "server_listen": conf.vncserver_listen,
            "server_proxyclient_address": conf.vncserver_proxyclient_address,
            "novncproxy_base_url": conf.novncproxy_base_url,
        }
    group = cfg.OptGroup("vnc")
    conf.register_group(group)
    conf.register_opts(_current_nova_opts(), group=group)
    conf(args=[], project="nova", default_config_files=[str(path)], default_config_dirs=[])
    return {opt.dest: getattr(conf.vnc, opt.dest) for opt in _current_nova_opts()}
