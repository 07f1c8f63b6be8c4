"""Feedback for the commands that can run long on a large store (replay, project, simulate,
audit export, ingest and import, and any later one such as backup): a rich progress bar on
stderr when stderr is a terminal, and otherwise one summary line on stderr when the work ends
(``replay: 20,028 events in 1.42s``), so a log or a pipe gets one line instead of a redrawn bar
and standard output stays clean for JSON and CSV."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

T = TypeVar("T")

Advance = Callable[[int], None]
"""Told how many more units are done."""

_stderr = Console(stderr=True, soft_wrap=True, highlight=False)


@contextmanager
def progress(
    label: str, total: int | None, *, unit: str = "events", console: Console | None = None
) -> Iterator[Advance]:
    """Yield ``advance(n)``: a bar (``label``, done of ``total``, elapsed) on a terminal,
    else one line ``label: N unit in S s`` on stderr when the block ends (not when it
    raises: the error is the line then)."""
    out = console or _stderr
    done = [0]
    started = time.perf_counter()
    if out.is_terminal:
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=out,
            transient=True,
        ) as bar:
            task = bar.add_task(label, total=total)

            def advance(n: int) -> None:
                done[0] += n
                bar.advance(task, n)

            yield advance
        return

    def count(n: int) -> None:
        done[0] += n

    yield count
    out.print(summary(label, done[0], time.perf_counter() - started, unit), markup=False)


def summary(label: str, done: int, seconds: float, unit: str = "events") -> str:
    """The one line printed instead of a bar: what, how many and how long."""
    return f"{label}: {done:,} {unit} in {seconds:.2f}s"


def track(
    items: Iterable[T], label: str, total: int | None, *, unit: str = "events"
) -> Iterator[T]:
    """Iterate ``items`` under ``progress`` (one unit per item): the helper a loop over rows,
    pages or files (a backup's pages, say) calls."""
    with progress(label, total, unit=unit) as advance:
        for item in items:
            yield item
            advance(1)
