"""The file notifier: writes the newsletter into the run folder (the default without SMTP)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs

from tsys.contracts import DailyRun, DeliveryResult
from tsys.errors import NotifierError
from tsys.notifiers import Newsletter, Notifier, NotifierContext
from tsys.options import non_empty, structure_options


@attrs.frozen
class FileOptions:
    """``[notifiers.file]``."""

    #: Where the newsletter files go; None: the run's folder.
    directory: str | None = attrs.field(default=None, validator=non_empty())


class FileNotifier(Notifier):
    """Write ``newsletter.html`` and ``newsletter.txt`` (per bucket: ``newsletter-<b>.*``)."""

    name = "file"
    options_class = FileOptions

    def __init__(self, directory: str | Path | None = None) -> None:
        self.directory = Path(directory) if directory is not None else None

    @classmethod
    def from_config(cls, options: dict[str, Any], ctx: NotifierContext) -> FileNotifier:
        opts = structure_options(FileOptions, options, where="$.notifiers.file")
        return cls(opts.directory if opts.directory is not None else ctx.run_dir)

    def send(self, run: DailyRun, newsletters: list[Newsletter]) -> DeliveryResult:
        if self.directory is None:
            raise NotifierError("the file notifier needs a directory")
        from tsys.files import atomic_write_text

        written = []
        for nl in newsletters:
            stem = "newsletter" if nl.bucket is None else f"newsletter-{nl.bucket}"
            for ext, body in (("html", nl.html), ("txt", nl.text)):
                path = self.directory / f"{stem}.{ext}"
                atomic_write_text(path, body)
                written.append(path)
        return DeliveryResult(
            plugin=self.name, ok=True, detail="wrote " + ", ".join(str(p) for p in written)
        )
