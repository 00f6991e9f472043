"""What the OpenAPI document says of text fields that pydantic strips before checking them."""

from __future__ import annotations

from pydantic import Field

# Text that is more than white space: it holds a character outside Unicode's White_Space, which
# is what ``StringConstraints(strip_whitespace=True)`` strips before ``min_length`` counts. The
# schema alone carries the pattern; the stripped length is what enforces it.
NOT_BLANK = r"[^\t\n\u000b\u000c\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
NOT_BLANK_SCHEMA = Field(json_schema_extra={"pattern": NOT_BLANK})
