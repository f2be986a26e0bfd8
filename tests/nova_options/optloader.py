"""
Read nova.conf files with nova's own VNC option definitions; run by the system Python.

    /usr/bin/python3 optloader.py DEFINITIONS FILE...

DEFINITIONS is ``debian`` (``nova.conf.vnc`` of Debian's installed ``python3-nova``) or a
directory of tests/data/nova/optdefs/ (option files of one nova release tag). Prints JSON:
``{"source": [...], "opts": [{"group", "name", "deprecated": [[group, name], ...]}],
"files": {FILE: {"values": {"group name": value}, "errors": {"group name": message},
"warnings": [...]}}}`` (``errors``: values nova refuses; ``warnings``: oslo.config's, e.g. the
use of a deprecated name).

Not for the venv: it uses the oslo.config (and, for ``debian``, nova) of /usr/lib/python3.
The old option files (Icehouse to Liberty) import nova modules and ``oslo.config`` under its
old name ``oslo.config.cfg``: those imports are stubbed here, and ``cfg.CONF`` is replaced
while the file runs by a recorder of what it registers. Nothing else is shimmed; from Mitaka on
the files import only oslo_config and are registered with their own ``register_opts``.
"""

import importlib.abc
import importlib.machinery
import importlib.util
import json
import logging
import os
import sys
import types

from oslo_config import cfg


class _Stub(types.ModuleType):
    """A nova module of an old release: any attribute is another stub."""

    __path__ = []

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return _Stub(f"{self.__name__}.{name}")


class _StubFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, fullname, path=None, target=None):
        if fullname == "nova" or fullname.startswith("nova."):
            return importlib.machinery.ModuleSpec(fullname, self, is_package=True)
        if fullname in ("oslo", "oslo.config"):
            return importlib.machinery.ModuleSpec(fullname, self, is_package=True)
        return None

    def create_module(self, spec):
        if spec.name == "oslo.config":
            module = types.ModuleType("oslo.config")
            module.__path__ = []
            module.cfg = cfg
            sys.modules["oslo.config.cfg"] = cfg
            return module
        if spec.name == "oslo":
            module = types.ModuleType("oslo")
            module.__path__ = []
            return module
        return _Stub(spec.name)

    def exec_module(self, module):
        pass


class _Recorder:
    """Stands for ``cfg.CONF`` while an old option file runs: keeps what it registers."""

    def __init__(self):
        self.registered = []  # (opts, group, cli)

    def register_opts(self, opts, group=None):
        self.registered.append((list(opts), group, False))

    def register_opt(self, opt, group=None, cli=False):
        self.registered.append(([opt], group, cli))

    def register_cli_opts(self, opts, group=None):
        self.registered.append((list(opts), group, True))

    def __getattr__(self, name):  # import_opt, set_default, ...: nothing to keep
        return lambda *args, **kwargs: None


def _exec_file(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def register(definitions, conf):
    """Register on ``conf`` the VNC options of ``definitions``; return the files they came from."""
    if definitions == "debian":
        import nova.conf.vnc  # pylint: disable=import-outside-toplevel

        nova.conf.vnc.register_opts(conf)
        return [nova.conf.vnc.__file__]
    names = sorted(n for n in os.listdir(definitions) if n.endswith(".py"))
    sources = [os.path.join(definitions, n) for n in names]
    if names == ["conf_vnc.py"]:
        _exec_file(sources[0], "nova_conf_vnc").register_opts(conf)
        return sources
    sys.meta_path.insert(0, _StubFinder())
    real_conf, recorder = cfg.CONF, _Recorder()
    cfg.CONF = recorder
    try:
        for source in sources:
            _exec_file(source, "nova_old_" + os.path.basename(source)[:-3])
    finally:
        cfg.CONF = real_conf
    for opts, group, cli in recorder.registered:
        if cli:
            conf.register_cli_opts(opts, group=group)
        else:
            conf.register_opts(opts, group=group)
    return sources


def _opts(conf):
    """The options registered on ``conf``, without oslo.config's own (config_file, ...)."""
    own = {name for name in cfg.ConfigOpts()._opts}
    out = []
    for group_name, group in [("DEFAULT", None)] + [(g, conf._groups[g]) for g in sorted(conf._groups)]:
        table = conf._opts if group is None else group._opts
        for name in sorted(table):
            if group is None and name in own:
                continue
            opt = table[name]["opt"]
            deprecated = []
            for dep in opt.deprecated_opts:
                deprecated.append([dep.group or group_name, dep.name or opt.dest])
            out.append({"group": group_name, "name": opt.dest, "deprecated": deprecated})
    return out


class _Warnings(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


def read(definitions, files):
    result = {"files": {}}
    for path in files:
        conf = cfg.ConfigOpts()
        result["source"] = register(definitions, conf)
        result["opts"] = _opts(conf)
        handler = _Warnings()
        logging.getLogger().addHandler(handler)
        try:
            conf(args=[], project="nova", default_config_files=[path], default_config_dirs=[])
            values, errors = {}, {}
            for opt in result["opts"]:
                holder = conf if opt["group"] == "DEFAULT" else conf[opt["group"]]
                try:
                    values[f"{opt['group']} {opt['name']}"] = holder[opt["name"]]
                except cfg.ConfigFileValueError as exc:  # nova would refuse to start
                    errors[f"{opt['group']} {opt['name']}"] = str(exc)
        finally:
            logging.getLogger().removeHandler(handler)
        result["files"][path] = {"values": values, "errors": errors, "warnings": handler.messages}
    return result


if __name__ == "__main__":
    json.dump(read(sys.argv[1], sys.argv[2:]), sys.stdout, default=str)
