"""One-line failures for the ESPnet training launchers (``dinosr_train``, ``asr_train``).

A user error (``ValueError``/``FileNotFoundError`` naming the file or key: bad config, bad
data, unreadable checkpoint, experiment directory in use) ends the run with one line and exit
status 1. With ``--multiprocessing_distributed`` the failing rank prints its line and the
parent reports which rank stopped. ``--debug`` (removed before ESPnet parses the options)
shows the traceback instead.
"""
from __future__ import annotations

import sys
from typing import Callable, Sequence

from torch.multiprocessing import ProcessExitedException

from dinosr_espnet.espnet.run_guard import user_error_line


def run_training(main: Callable[[list[str]], None], prog: str, argv: Sequence[str]) -> int:
    """Call ``main(argv)``; return 0, or 1 after printing a user error as one line."""
    argv = list(argv)
    debug = "--debug" in argv
    if debug:
        argv.remove("--debug")
    try:
        main(argv)
    except (ValueError, FileNotFoundError) as e:
        if debug:
            raise
        print(f"{prog}: error: {user_error_line(e)}", file=sys.stderr)
        return 1
    except ProcessExitedException as e:
        if debug:
            raise
        print(f"{prog}: error: training process {e.error_index} exited with code "
              f"{e.exit_code} (its message is above)", file=sys.stderr)
        return 1
    return 0
