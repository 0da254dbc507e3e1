"""The notifier interface: deliver a rendered newsletter for a daily run."""

from __future__ import annotations

import abc
from typing import Any, ClassVar, Self

import attrs

from tsys.contracts import DailyRun, DeliveryResult


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


class Notifier(abc.ABC):
    """Base class of notifiers."""

    name: ClassVar[str] = ""
    #: The attrs class of the plugin's options, built by ``tsys.options.structure_options``.
    options_class: ClassVar[type | None] = None

    @classmethod
    def from_config(cls, options: dict[str, Any], ctx: NotifierContext) -> Self:
        return cls(**options)

    @abc.abstractmethod
    def send(self, run: DailyRun, newsletters: list[Newsletter]) -> DeliveryResult:
        """Deliver the newsletters; raise :class:`~tsys.errors.NotifierError` on failure."""
