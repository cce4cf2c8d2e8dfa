"""The replay's progress bar (rich): events folded, events/s, time left."""

from __future__ import annotations

from types import TracebackType

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


class RichProgress:
    def __init__(self) -> None:
        self._bar = Progress(
            TextColumn("replay"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("events"),
            TextColumn("{task.fields[rate]:>10} events/s"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
        )
        self._task: TaskID | None = None

    def __enter__(self) -> RichProgress:
        self._bar.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._bar.__exit__(exc_type, exc, tb)

    def begin(self, total: int) -> None:
        self._task = self._bar.add_task("replay", total=total, rate="-")

    def advance(self, count: int) -> None:
        if self._task is None:
            return
        self._bar.advance(self._task, count)
        speed = self._bar.tasks[self._task].speed
        self._bar.update(self._task, rate=f"{speed:,.0f}" if speed else "-")
