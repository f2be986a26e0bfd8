"""
The bootstrap host's PXE boot files in one state: the default menu, and a menu and a preseed
per reserved host (``brinelib.pxe``). One state instead of two ``file.managed`` per host keeps
a no-op run of a 64-host inventory close to a 4-host one: each template is fetched once and
rendered in-process, and only files whose text differs are written (atomically, 0644: tftpd
serves them). A preseed is written only after debconf's own parser accepted it: one it cannot
read would stop the installer half-way.
"""

import os

import brinelib

brinelib.forget_if_changed()  # a library synced since it was imported replaces the old one
from brinelib import pxe, stores
from brinelib.commands import run
from brinelib.errors import CommandExecutionError
from brinelib.state_returns import changed, failed, new_return, unchanged, would_change

__virtualname__ = "brine_bootstrap"

TEMPLATES = {
    pxe.MENU: "salt://bootstrap/files/pxelinux-default.jinja",
    pxe.HOST_MENU: "salt://bootstrap/files/pxelinux-host.jinja",
    pxe.PRESEED: "salt://bootstrap/files/preseed.cfg.jinja",
}


def __virtual__():
    if "file.apply_template_on_contents" not in __salt__:
        return (False, "brine_bootstrap needs Salt's file execution module")
    return __virtualname__


def _read(path):
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.read()
    except FileNotFoundError:
        return None


def _check_preseed(path):
    run(["debconf-set-selections", "--checkonly", path])


def _render(files, lab, templates):
    sources = {}
    wanted = {}
    for path, kind, host in files:
        if kind not in sources:
            text = __salt__["cp.get_file_str"](templates[kind], saltenv=__env__)
            if text is False or text is None:
                raise CommandExecutionError(f"{templates[kind]} not found on the file server")
            sources[kind] = text
        context = {"lab": lab} if host is None else {"lab": lab, "host": host}
        wanted[path] = __salt__["file.apply_template_on_contents"](
            sources[kind], template="jinja", context=context, defaults={}, saltenv=__env__)
    return wanted


def pxe_files(name, lab, reservations, templates=None):
    """
    The PXE files under the TFTP root ``name``: ``pxelinux.cfg/default`` for machines without a
    reservation, and for each of ``reservations`` except the bootstrap host (``lab['host']``)
    ``pxelinux.cfg/01-<mac>`` and ``preseed/<hostname>.cfg``. ``lab`` is what the templates
    render from (brine_bootstrap.bootstrap_settings without its reservations). Files no
    reservation names are left alone.

    changes: ``{path: "created" | "updated"}``, the same with test=True (result None), where the
    preseeds are still checked by debconf and nothing is written.

    CLI Example:

    .. code-block:: yaml

        bootstrap-pxe-files:
          brine_bootstrap.pxe_files:
            - name: /srv/tftp
            - lab: {...}
            - reservations: [{host: ubuntu2, hostname: ubuntu2, mac: '52:54:00:10:02:02', ip: 10.10.0.12}]
    """
    ret = new_return(name)
    files = pxe.boot_files(name, reservations, lab.get("host"))
    kinds = {path: kind for path, kind, _ in files}
    try:
        wanted = _render(files, lab, {**TEMPLATES, **(templates or {})})
    except Exception as exc:  # a template error names the template and line; the files stay as they are
        return failed(ret, f"Cannot render the PXE files: {exc}")
    todo = pxe.differing(wanted, {path: _read(path) for path in wanted})
    if not todo:
        return unchanged(ret, f"The {len(wanted)} PXE files under {name} are up to date")
    changes = {path: todo[path] for path in sorted(todo)}
    if __opts__["test"]:
        for path in changes:
            if kinds[path] == pxe.PRESEED:
                problem = _checked_in_tmp(wanted[path])
                if problem:
                    return failed(ret, f"{path} would be refused by debconf: {problem}")
        return would_change(ret, changes, f"{len(changes)} of the {len(wanted)} PXE files under {name} would be written")
    written = {}
    for path, what in changes.items():
        check = _check_preseed if kinds[path] == pxe.PRESEED else None
        try:
            os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
            stores.replace_file(path, wanted[path].encode(), mode=0o644, check=check)
        except (OSError, CommandExecutionError) as exc:
            return failed(ret, f"{path} was not written: {exc}", changes=written)
        written[path] = what
    return changed(ret, written, f"{len(written)} of the {len(wanted)} PXE files under {name} written")


def _checked_in_tmp(text):
    """debconf's verdict on ``text`` (None when it accepts it), from a private temporary file."""
    tmp = stores.private_file(__opts__.get("cachedir", "/tmp"), ".brine-preseed.", text.encode())
    try:
        _check_preseed(tmp)
    except CommandExecutionError as exc:
        return str(exc)
    finally:
        os.unlink(tmp)
    return None
