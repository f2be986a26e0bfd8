"""Running a command: an argument list (never a shell), its output captured as text."""

import subprocess

from brinelib.errors import CommandExecutionError


def run(argv, check=True, timeout=60, error=CommandExecutionError, **kwargs):
    """
    Run ``argv`` and return the ``subprocess.CompletedProcess``. With ``check``, a non-zero exit
    raises ``error`` naming the command, its exit status and what it said (stderr, else stdout).
    ``timeout`` (seconds, None for none) and ``kwargs`` go to ``subprocess.run``.
    """
    proc = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=timeout, **kwargs)
    if check and proc.returncode != 0:
        said = proc.stderr.strip() or proc.stdout.strip()
        raise error(f"{' '.join(map(str, argv))} failed ({proc.returncode}): {said}")
    return proc
