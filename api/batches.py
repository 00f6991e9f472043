"""Batch endpoints validate item by item: a bad item is reported, the rest go on.

``Annotated[Model, KeepInvalid]`` is the item type of such a batch: an item that fails validation
becomes an ``InvalidItem`` carrying field-level reasons instead of a 422 for the
whole request.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError, ValidatorFunctionWrapHandler, WrapValidator

from api.errors import FieldError


class InvalidItem(BaseModel):
    """An item that failed validation; kept so the rest of the batch goes on."""

    fields: list[FieldError]


def _keep_invalid(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    try:
        return handler(value)
    except ValidationError as exc:
        fields = [
            FieldError(field=".".join(str(p) for p in e["loc"]) or "item", reason=_reason(e["msg"]))
            for e in exc.errors()
        ]
        return InvalidItem(fields=fields)


def _reason(message: str) -> str:
    return message.removeprefix("Value error, ")


# Each item validates on its own: a bad item becomes an InvalidItem, not a 422 for the batch.
KeepInvalid = WrapValidator(_keep_invalid)
