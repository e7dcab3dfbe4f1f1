"""Progress bars that show up where the user is looking.

In JupyterLab with ipywidgets: a notebook bar. In a terminal: tqdm's text bar. Under
``workshop run`` (papermill sets ``WORKSHOP_PROGRESS=lines`` for the kernels): one plain line
every ~10% on stderr, prefixed with ``PROGRESS_MARK``, which the runner forwards to the terminal,
so long training and evaluation phases are not silent.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import time
from collections.abc import Iterable, Iterator
from typing import Any

from tqdm import tqdm as text_tqdm

PROGRESS_MARK = "» "
ENV = "WORKSHOP_PROGRESS"


class LineProgress:
    """A minimal tqdm stand-in that prints a full line at most every ~10% (and at the end)."""

    def __init__(self, iterable: Iterable[Any], desc: str = "", total: int | None = None) -> None:
        self.iterable = iterable
        self.desc = desc
        self.total = total if total is not None else (len(iterable) if hasattr(iterable, "__len__") else None)
        self.postfix = ""
        self.n = 0

    def set_postfix(self, **values: Any) -> None:
        self.postfix = ", ".join(f"{k}={v}" for k, v in values.items())

    def _print(self, start: float) -> None:
        of = f"/{self.total}" if self.total else ""
        extra = f" ({self.postfix})" if self.postfix else ""
        print(
            f"{PROGRESS_MARK}{self.desc}: {self.n}{of}{extra}, {time.perf_counter() - start:.0f} s",
            file=sys.stderr,
            flush=True,
        )

    def __iter__(self) -> Iterator[Any]:
        start = time.perf_counter()
        step = max(1, (self.total or 10) // 10)
        for item in self.iterable:
            yield item
            self.n += 1
            if self.n % step == 0 or self.n == self.total:
                self._print(start)


def note(message: str) -> None:
    """One progress line for a phase that has no bar of its own (forwarded by ``workshop run``)."""
    print(f"{PROGRESS_MARK if os.environ.get(ENV) == 'lines' else ''}{message}", file=sys.stderr, flush=True)


def progress_bar(iterable: Iterable[Any], desc: str = "", disable: bool = False, total: int | None = None) -> Any:
    """A progress bar for ``iterable`` suited to where the code runs (see the module doc)."""
    if disable:
        return text_tqdm(iterable, disable=True, total=total)
    if os.environ.get(ENV) == "lines":
        return LineProgress(iterable, desc, total)
    if "ipykernel" in sys.modules and importlib.util.find_spec("ipywidgets") is not None:
        from tqdm.notebook import tqdm as notebook_tqdm

        return notebook_tqdm(iterable, desc=desc, total=total)
    return text_tqdm(iterable, desc=desc, total=total)
