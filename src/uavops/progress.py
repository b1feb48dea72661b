"""Progress display for long work, shared by every stage.

Bars go to stderr so ``--json`` output on stdout stays clean; they switch themselves off
when stderr is not a terminal (tests, CI logs) unless forced.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

__all__ = ["progress_bar", "track", "stderr_console"]

T = TypeVar("T")

stderr_console = Console(stderr=True)


@contextlib.contextmanager
def progress_bar(enabled: bool | None = None) -> Iterator[Progress]:
    """A rich Progress on stderr; disabled (but still usable) when stderr is not a TTY."""
    if enabled is None:
        enabled = sys.stderr.isatty()
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=stderr_console,
        disable=not enabled,
        transient=False,
    )
    with progress:
        yield progress


def track(items: Iterable[T], description: str, total: int | None = None, enabled: bool | None = None) -> Iterator[T]:
    """Iterate with a progress bar."""
    if total is None and hasattr(items, "__len__"):
        total = len(items)  # type: ignore[arg-type]
    with progress_bar(enabled) as progress:
        task = progress.add_task(description, total=total)
        for item in items:
            yield item
            progress.advance(task)
