"""Response models read from stored rows: one way to copy a row's attributes into a model."""

from __future__ import annotations

from typing import Any, Self

from pydantic import BaseModel


class RowOut(BaseModel):
    """A response model whose fields are, by default, a row's attributes of the same name."""

    @classmethod
    def of(cls, row: Any, **values: Any) -> Self:
        """The model of ``row``: ``values`` for the fields they name, the rest read from ``row``."""
        read = {name: getattr(row, name) for name in cls.model_fields if name not in values}
        return cls(**read, **values)
