"""The one entry-point wrapper of every launcher in ``dinosr_espnet.bin``.

It gives all tools the same behaviour:

- ``--help`` shows every option's default (``HelpFormatter``);
- logging goes to stderr, at ``--log_level`` where a tool has one, else INFO;
- a user error (``USER_ERRORS``: bad value, missing file, ... plus the tool's own error types)
  is printed as one line and the tool exits with status 1; ``--debug`` shows the traceback
  instead (and logs at DEBUG level). Anything else is a bug and keeps its traceback.

argparse tools call ``run_cli(build_parser, run)``; the ESPnet-based trainers, whose parsers
ESPnet builds, call ``run_guarded(main)``, which only adds the error handling.
"""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Callable, Optional, Sequence

from dinosr_espnet.user_errors import one_line

DEBUG_FLAG = "--debug"
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
USER_ERRORS: tuple[type[BaseException], ...] = (
    ValueError, FileNotFoundError, FileExistsError, IsADirectoryError, NotADirectoryError,
    PermissionError,
)


class HelpFormatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """Keeps the description's layout and appends ``(default: ...)`` to every option that has
    a meaningful default (not ``None``, not an on/off flag)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        help_text = action.help or ""
        if (action.default is None or action.default is argparse.SUPPRESS
                or (action.nargs == 0 and isinstance(action.default, bool))):
            return help_text
        return super()._get_help_string(action)


def tool_name(func: Callable) -> str:
    """``extract`` for a function of ``dinosr_espnet.bin.extract``, also when that module runs
    as ``__main__`` (``python -m``): the name of the error line's logger."""
    module = func.__module__
    if module == "__main__":
        spec = getattr(sys.modules["__main__"], "__spec__", None)
        module = spec.name if spec is not None else Path(sys.argv[0]).stem
    return module.rsplit(".", 1)[-1]


def guarded(name: str, call: Callable[[], object], debug: bool = False,
            user_errors: Sequence[type[BaseException]] = ()) -> int:
    """Run ``call``; a user error becomes one logged line and status 1 (re-raised if ``debug``)."""
    try:
        call()
    except (*USER_ERRORS, *user_errors) as e:
        if debug:
            raise
        logging.basicConfig(format=LOG_FORMAT)  # no-op once configured
        logging.getLogger(f"dinosr_espnet.{name}").error("%s (%s shows the traceback)",
                                                         one_line(e), DEBUG_FLAG)
        return 1
    return 0


def run_cli(build_parser: Callable[[], argparse.ArgumentParser],
            run: Callable[[argparse.Namespace], object],
            argv: Optional[Sequence[str]] = None,
            parse: Optional[Callable[[argparse.ArgumentParser, list[str]], argparse.Namespace]] = None,
            user_errors: Sequence[type[BaseException]] = ()) -> int:
    """Parse ``argv`` (default: ``sys.argv[1:]``) with ``build_parser()`` and call ``run``;
    returns the exit status. ``parse(parser, argv)`` replaces ``parser.parse_args`` for tools
    whose parsing reads files (its user errors are handled like ``run``'s)."""
    invoked = argv is None
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    parser.formatter_class = HelpFormatter
    if invoked and Path(sys.argv[0]).name.startswith("dinosr-"):  # a console script
        parser.prog = Path(sys.argv[0]).name
    parser.add_argument(DEBUG_FLAG, action="store_true",
                        help="on an error, show the Python traceback; log at DEBUG level")
    debug = DEBUG_FLAG in argv

    def call() -> None:
        args = parse(parser, argv) if parse is not None else parser.parse_args(argv)
        level = "DEBUG" if debug else getattr(args, "log_level", "INFO")
        logging.basicConfig(level=level, format=LOG_FORMAT)
        run(args)

    return guarded(tool_name(run), call, debug, user_errors)


def run_guarded(main: Callable[[list[str]], object], argv: Optional[Sequence[str]] = None,
                user_errors: Sequence[type[BaseException]] = ()) -> int:
    """``main(argv)`` of a tool whose parser is not ours (ESPnet's): ``--debug`` is taken out
    of ``argv`` before ``main`` sees it; user errors as in ``run_cli``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = DEBUG_FLAG in argv
    argv = [a for a in argv if a != DEBUG_FLAG]
    return guarded(tool_name(main), lambda: main(argv), debug, user_errors)
