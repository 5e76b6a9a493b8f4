"""Progress of a sweep run: a rich progress bar on stderr (configurations done, configs/s, ETA)."""

from __future__ import annotations


class _Progress:
    """A rich progress bar on stderr: configurations done / total, configurations per second, ETA."""

    def __init__(self, total: int, done: int, label: str, enabled: bool):
        self.enabled = enabled
        if not enabled:
            return
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            Progress,
            ProgressColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )
        from rich.text import Text

        class Rate(ProgressColumn):
            def render(self, task):  # noqa: D102
                speed = task.finished_speed or task.speed
                return Text("-- configs/s" if speed is None else f"{_si(speed)} configs/s")

        self.bar = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(),
            TextColumn("{task.completed:,.0f}/{task.total:,.0f} configs"), Rate(),
            TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(),
            console=Console(stderr=True), transient=False,
        )
        self.bar.start()
        self.task = self.bar.add_task(label, total=total, completed=done)

    def advance(self, n: int) -> None:
        if self.enabled:
            self.bar.advance(self.task, n)

    def close(self) -> None:
        if self.enabled:
            self.bar.stop()


def _si(x: float) -> str:
    for scale, p in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if x >= scale:
            return f"{x / scale:.3g}{p}"
    return f"{x:.3g}"
