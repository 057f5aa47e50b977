"""The one progress bar of the CLI (indexing, evaluation): rich, on stderr, shown from its first update."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

Update = Callable[..., None]  # update(done, total[, chunks, message]): the indexer's ProgressFn fits


@contextmanager
def progress_bar(label: str, detail: str = "", transient: bool = False) -> Iterator[Update]:
    """A bar labelled `label`; `detail` is a column template such as "files · {task.fields[chunks]} chunks".

    It appears with the first update, so a run that fails before any work prints only its error line.
    """
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               *([TextColumn(detail)] if detail else []), TimeElapsedColumn()]
    bar = Progress(*columns, console=Console(stderr=True), transient=transient)
    task = bar.add_task(label, total=None, chunks=0)

    def update(done: int, total: int, chunks: int = 0, message: str = "") -> None:
        if not bar.live.is_started:
            bar.start()
        bar.update(task, completed=done, total=total or None, chunks=chunks)

    try:
        yield update
    finally:
        if bar.live.is_started:  # stop() on a bar never shown prints an empty line
            bar.stop()
