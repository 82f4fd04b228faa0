"""Shared entry-point wrapper for the unit-analysis CLIs: logging set-up and clean errors."""
from __future__ import annotations

import argparse
import logging
from typing import Callable, Optional, Sequence

logger = logging.getLogger(__name__)


def run_cli(build_parser: Callable[[], argparse.ArgumentParser],
            run: Callable[[argparse.Namespace], object],
            argv: Optional[Sequence[str]] = None) -> int:
    """Parse ``argv`` and call ``run``; bad input (ValueError, missing file) exits 1 with one line."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        run(build_parser().parse_args(argv))
    except (ValueError, FileNotFoundError) as e:
        logger.error("%s", e)
        return 1
    return 0
