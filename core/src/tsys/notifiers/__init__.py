"""The notifier interface: deliver a rendered newsletter for a daily run."""

from __future__ import annotations

import abc
from typing import Any

import attrs

from tsys.contracts import DailyRun, DeliveryResult
from tsys.options import Configurable


@attrs.frozen
class Newsletter:
    """A rendered newsletter: subject, HTML (CSS inlined) and the plain-text alternative."""

    subject: str
    html: str
    text: str
    bucket: str | None = None


@attrs.define
class NotifierContext:
    config: Any = None
    run_dir: Any = None
    warnings: list[str] = attrs.field(factory=list)


class Notifier(Configurable, abc.ABC):
    """Base class of notifiers; built by ``from_config(options, NotifierContext)``."""

    @abc.abstractmethod
    def send(self, run: DailyRun, newsletters: list[Newsletter]) -> DeliveryResult:
        """Deliver the newsletters; raise :class:`~tsys.errors.NotifierError` on failure."""
