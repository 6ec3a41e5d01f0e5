"""What every command shares: turning a user-facing error into one line and exit status 2."""
import sys

from tfgraph_lessons.core.errors import TFGraphError


def run_main(fn, *args, **kwargs):
    """Call ``fn(*args, **kwargs)``; on :class:`TFGraphError` print ``error: <message>``
    to stderr and exit with its status (2). Returns ``fn``'s result otherwise."""
    try:
        return fn(*args, **kwargs)
    except TFGraphError as e:
        msg = " ".join(str(e).split())  # one line, whatever the message held
        print(f"error: {msg}", file=sys.stderr)
        sys.exit(e.exit_status)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
