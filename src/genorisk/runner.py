"""Glue for the workflow's ``scripts/`` adapters.

Each adapter is a few lines: read ``snakemake.input/output/params``, call one
function of the package. :func:`run_step` gives them all the same behaviour:
log lines (time, stage, message; never genotypes) go to the rule's ``log:``
file and to stderr, and bad input ends the job with one clear line naming
the file, the record and the problem, and a non-zero exit, before any output
is renamed into place.
"""

from __future__ import annotations

import logging
import sys
import time
import traceback
from collections.abc import Callable

from .errors import InputError


def setup_logging(log_path: str | None, level: int = logging.INFO) -> logging.Logger:
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_path:
        handlers.append(logging.FileHandler(log_path, mode="w"))
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%Y-%m-%d %H:%M:%S",
        handlers=handlers,
        force=True,
    )
    return logging.getLogger("genorisk")


def run_step(snakemake, step: Callable[[], None]) -> None:
    """Run ``step`` with logging set up from ``snakemake.log``; exit 1 on bad input."""
    log_path = snakemake.log[0] if len(snakemake.log) else None
    log = setup_logging(log_path)
    log.info("rule %s started", snakemake.rule)
    t0 = time.perf_counter()
    try:
        step()
    except InputError as err:
        log.error("%s", err)
        sys.exit(1)
    except Exception:
        log.error("rule %s failed:\n%s", snakemake.rule, traceback.format_exc())
        sys.exit(1)
    log.info("rule %s finished in %.1f s", snakemake.rule, time.perf_counter() - t0)
