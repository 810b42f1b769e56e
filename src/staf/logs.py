"""What libraries say goes into staf's log, and the log is shown only when asked.

staf's libraries print on their own: LiteRT's C++ code writes ``INFO: Created TensorFlow Lite
XNNPACK delegate for CPU.`` to the process's standard error when an interpreter allocates its
tensors, and FFmpeg (inside PyAV and inside OpenCV) writes lines such as ``[h264 @ 0x…] Error
splitting the input into NAL units.`` when a file is damaged. staf's own message says what was
wrong; those lines are for debugging.

- :func:`configure` (called once by the CLI): the ``staf`` logger prints to standard error
  only with ``verbose`` (``--verbose`` or ``STAF_DEBUG=1``), otherwise warnings only; PyAV's
  FFmpeg log is routed into Python logging (logger ``libav``) and follows the same rule.
- :func:`native_output_to_log`: a context manager that catches what C/C++ code writes to file
  descriptor 2 while it runs and logs it (logger ``staf.native``, level DEBUG).
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import tempfile
from typing import Iterator

LOGGER = logging.getLogger("staf")
_CONFIGURED = {"verbose": False}


class _Formatter(logging.Formatter):
    """``staf: warning: …`` for staf's records, ``libav.h264: error: …`` for the libraries'."""

    def format(self, record: logging.LogRecord) -> str:
        name = "staf" if record.name.startswith("staf") and record.levelno >= logging.WARNING else record.name
        return f"{name}: {record.levelname.lower()}: {record.getMessage()}"


def verbose_requested(flag: bool = False) -> bool:
    """``--verbose`` or ``STAF_DEBUG`` set (to anything but '' or '0')."""
    return bool(flag) or os.environ.get("STAF_DEBUG", "") not in ("", "0")


def configure(verbose: bool) -> None:
    """Set up the ``staf`` and ``libav`` loggers for one command (see the module docstring)."""
    _CONFIGURED["verbose"] = verbose
    level = logging.DEBUG if verbose else logging.WARNING
    for name in ("staf", "libav"):
        logger = logging.getLogger(name)
        logger.setLevel(level if name == "staf" else (logging.DEBUG if verbose else logging.CRITICAL + 1))
        logger.propagate = False
        if not any(getattr(handler, "_staf", False) for handler in logger.handlers):
            handler = logging.StreamHandler(sys.stderr)
            handler.setFormatter(_Formatter())
            handler._staf = True
            logger.addHandler(handler)
    try:
        import av.logging

        av.logging.set_level(av.logging.VERBOSE if verbose else av.logging.PANIC)
    except ImportError:        # PyAV not installed: nothing to route
        pass


@contextlib.contextmanager
def native_output_to_log(what: str) -> Iterator[None]:
    """Catch file descriptor 2 (C/C++ libraries' standard error) while the block runs; log each
    line caught (``staf.native``, DEBUG, prefixed by ``what``). With ``verbose`` nothing is caught."""
    if _CONFIGURED["verbose"]:
        yield
        return
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):       # no usable descriptor 2 (embedded interpreters): leave it
        yield
        return
    with tempfile.TemporaryFile(mode="w+b") as caught:
        os.dup2(caught.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            caught.seek(0)
            text = caught.read().decode("utf-8", "replace")
    for line in text.splitlines():
        if line.strip():
            logging.getLogger("staf.native").debug("%s: %s", what, line.strip())
