"""Where the lab's user-mode-linux kernel is: one kernel for the lab guests and the kernel tests,
pinned in lab/uml-kernel.conf and installed by scripts/uml-kernel.sh (docs/lab.md says why)."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CONF = REPO / "lab" / "uml-kernel.conf"


def _read_env(path):
    values = {}
    for line in Path(path).read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            values[key] = value
    return values


SETTINGS = _read_env(CONF)
INSTALL_DIR = Path(SETTINGS["INSTALL_ROOT"]) / SETTINGS["UML_VERSION"]
KERNEL = INSTALL_DIR / "root" / "usr" / "bin" / "linux.uml"
MODULES = INSTALL_DIR / "root" / "usr" / "lib" / "uml" / "modules"


def problem():
    """Why the kernel cannot be used here, or None."""
    if not (INSTALL_DIR / ".complete").exists() or not KERNEL.exists():
        return f"the lab's UML kernel {SETTINGS['UML_VERSION']} is not installed in {INSTALL_DIR} (scripts/uml-kernel.sh)"
    return None


def release():
    """The kernel release (``uname -r`` inside a guest, the module tree's name)."""
    versions = sorted(p.name for p in MODULES.iterdir()) if MODULES.is_dir() else []
    if len(versions) != 1:
        raise RuntimeError(f"expected one UML module tree under {MODULES} (scripts/uml-kernel.sh), found {versions}")
    return versions[0]


def describe_host():
    """The kernel and the host CPU, for benchmark figures: figures depend on both."""
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"UML kernel {SETTINGS['UML_VERSION']} ({release()}), host CPU {model}"
