"""Batch endpoints validate item by item: a bad item is reported, the rest go on.

``Annotated[Model, KeepInvalid]`` is the item type of such a batch: an item that fails validation
becomes an ``InvalidItem`` carrying field-level reasons instead of a 422 for the
whole request.

The OpenAPI document says so: an item is the model *or any other JSON value*, since the request
takes any item and answers for each (``invalid`` with its fields). Only the batch itself (its
size, an array) can make the request a 422.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, GetCoreSchemaHandler, GetJsonSchemaHandler, ValidationError
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import core_schema

from api.errors import FieldError


class InvalidItem(BaseModel):
    """An item that failed validation; kept so the rest of the batch goes on."""

    fields: list[FieldError]


def _keep_invalid(value: Any, handler: core_schema.ValidatorFunctionWrapHandler) -> Any:
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


ITEM_NOTE = "Checked on its own: an item that is not valid is answered `invalid` with its fields."


class _KeepInvalid:
    """Each item validates on its own: a bad item becomes an InvalidItem, not a 422 for the batch."""

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_wrap_validator_function(_keep_invalid, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {"anyOf": [handler(schema), {}], "description": ITEM_NOTE}


KeepInvalid = _KeepInvalid()
