"""
The errors Brine raises everywhere: a failed command or action (Salt's ``CommandExecutionError``)
and an inventory that a planner or renderer cannot use (:class:`InventoryProblem`).
"""

try:
    from salt.exceptions import CommandExecutionError
except ImportError:  # pragma: no cover - Salt is on every host and in the test venv

    class CommandExecutionError(Exception):
        """Salt's error for a failed command, where Salt is not installed (a plain script)."""


class InventoryProblem(ValueError):
    """
    An inventory that cannot be planned or rendered. ``errors`` lists every problem found, each
    a text or a ``(pillar path, message)`` pair; the message says them all, one a line, under
    ``heading`` when one is given.
    """

    def __init__(self, errors, heading=None):
        self.errors = [errors] if isinstance(errors, str) else list(errors)
        lines = [f"{error[0]}: {error[1]}" if isinstance(error, tuple) else str(error) for error in self.errors]
        if heading is not None:
            lines = [heading] + [f"  - {line}" for line in lines]
        super().__init__("\n".join(lines))
