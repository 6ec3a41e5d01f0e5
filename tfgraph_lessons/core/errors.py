"""Errors a user can act on.

Every error a command reports to its user derives from :class:`TFGraphError`:
its message is one line that says what was wrong and how to fix it, and the
lesson command line turns it into that line on stderr and exit status 2
(see :func:`tfgraph_lessons.core.cli.run_main`). Programming errors inside a
graph builder (a tensor of the wrong rank) are ``ValueError`` as in TensorFlow.
"""


class TFGraphError(Exception):
    """A problem with the user's input or environment; ``str(e)`` is one line."""

    exit_status = 2


class UsageError(TFGraphError, ValueError):
    """A bad command-line value or configuration (unknown ``--device``, ``--epochs -1``)."""


class DataError(TFGraphError):
    """A data file is missing, unreadable, corrupt or in the wrong format."""


class ChecksumError(DataError):
    """A downloaded or cached file does not match its published checksum."""


class OfflineError(DataError):
    """A file is not cached and no mirror could be reached."""


class TrainingError(TFGraphError):
    """Training cannot go on (for example the loss became NaN or infinite)."""
