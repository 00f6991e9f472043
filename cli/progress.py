"""The progress bar every long CLI command shows (import, demo, replay): one look for all."""

from __future__ import annotations

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


def progress_bar(console: Console, *extra: ProgressColumn, remaining: bool = True) -> Progress:
    """Description, bar, done/total, ``extra`` columns, elapsed (and remaining) time; drawn
    only on a terminal, so piped output stays clean."""
    columns: list[ProgressColumn] = [
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        *extra,
        TimeElapsedColumn(),
    ]
    if remaining:
        columns.append(TimeRemainingColumn())
    return Progress(*columns, console=console, disable=not console.is_terminal)
