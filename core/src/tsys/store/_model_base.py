"""What the store's live models share: a base bound to one database, tables named by rule."""

from __future__ import annotations

import re
from types import SimpleNamespace
from typing import Any

import peewee as pw


def table_name(model: type) -> str:
    """A model's table: its class name in snake case, plural (``PaperOrder`` -> ``paper_orders``)."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", model.__name__).lower() + "s"


def model_base(db: Any) -> type[pw.Model]:
    """The base class of models bound to ``db``; a model's ``Meta.table_name`` overrides the rule."""

    class Base(pw.Model):
        class Meta:
            database = db
            table_function = table_name

    return Base


def model_namespace(*models: type[pw.Model], **more: Any) -> SimpleNamespace:
    """The models by class name, ``more`` beside them, and ``all``: the models in order."""
    return SimpleNamespace(**{m.__name__: m for m in models}, **more, all=models)
