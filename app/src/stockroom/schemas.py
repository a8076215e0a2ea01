"""Request and response schemas (pydantic). The OpenAPI document is generated from these, and
request bodies are validated with them, so the spec and the behaviour cannot drift apart."""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    RootModel,
    WithJsonSchema,
    field_validator,
)

MAX_QUANTITY = 10**12  # far below BIGINT, so sums of movements can never overflow the column
MAX_COST = Decimal("9999999999.99")  # DECIMAL(12, 2)
SKU_PATTERN = r"^[A-Za-z0-9._-]{1,64}$"
# "Has a character that is not white space", with white space spelled out as the union of what
# ECMA-262 (the document's regex dialect) and Unicode White_Space (pydantic's Rust regex) call
# space: the two disagree on U+0085 and U+FEFF, and a client must not be told otherwise.
_SPACE = r"\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
NOT_BLANK = f"[^{_SPACE}]"
MONEY_PATTERN = r"^[0-9]{1,10}(\.[0-9]{1,2})?$"
# The ETag of an item is its version in quotes ("3"); W/ is tolerated, * matches any version.
IF_MATCH_PATTERN = r'^(\*|(W/)?"[0-9]{1,18}")$'
# POST /import/items: a text/csv body, or the CSV as the multipart part "file"; UTF-8 either way.
CSV_MEDIA_TYPES = ("text/csv", "multipart/form-data")
Reason = Literal["receive", "ship", "adjust", "count", "return"]
SortKey = Literal[
    "sku", "-sku", "name", "-name", "quantity", "-quantity", "updated_at", "-updated_at"
]


def _whole(value: object) -> object:
    # OpenAPI 3.1 (JSON Schema 2020-12) counts 1651.0 as the integer 1651, so the server does too.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _money_input(value: object) -> object:
    if isinstance(value, bool) or (isinstance(value, str) and not _MONEY_RE.fullmatch(value)):
        raise ValueError("must be a decimal number like 12.50 (at most 2 decimal places)")
    return value


def _not_zero(value: int) -> int:
    if value == 0:
        raise ValueError("must not be zero")
    return value


_MONEY_RE = re.compile(MONEY_PATTERN)
Sku = Annotated[
    str, Field(pattern=SKU_PATTERN, min_length=1, max_length=64, examples=["BOLT-M8-40"])
]
Name = Annotated[str, Field(min_length=1, max_length=200, pattern=NOT_BLANK)]
Description = Annotated[str, Field(max_length=2000)]
Label = Annotated[str, Field(max_length=64)]
Unit = Annotated[str, Field(min_length=1, max_length=16, pattern=NOT_BLANK)]
Note = Annotated[str, Field(max_length=500)]
# Bounds first: a validator placed before them would hide them from the JSON schema.
Stock = Annotated[int, Field(ge=0, le=MAX_QUANTITY), BeforeValidator(_whole)]
Money = Annotated[
    Decimal,
    BeforeValidator(_money_input),
    Field(ge=0, max_digits=12, decimal_places=2, strict=False, allow_inf_nan=False),
    # What we accept: a JSON number with at most 2 decimals, or a decimal string like "12.50".
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "number", "minimum": 0, "maximum": float(MAX_COST), "multipleOf": 0.01},
                {"type": "string", "pattern": MONEY_PATTERN, "examples": ["12.50"]},
            ],
            "description": f"0 to {MAX_COST}, at most 2 decimal places",
        }
    ),
]


class _Strict(BaseModel):
    # Strict: JSON types must match the schema (no "5" for 5); unknown fields are errors.
    model_config = ConfigDict(strict=True, extra="forbid")


class ItemCreate(_Strict):
    sku: Sku
    name: Name
    description: Description = ""
    category: Label = ""
    location: Label = ""
    unit: Unit = "pcs"
    quantity: Stock = 0
    reorder_level: Stock = 0
    unit_cost: Money = Decimal("0")


def _only_omittable(schema: dict[str, Any]) -> None:
    # Optional in ItemUpdate means "may be left out", never null: document just the value.
    for name, prop in schema["properties"].items():
        value = next(b for b in prop.pop("anyOf") if b.get("type") != "null")
        prop.pop("default", None)
        schema["properties"][name] = value | prop


class ItemUpdate(_Strict):
    """Every field optional; ``quantity`` is not accepted (stock changes only through movements)."""

    model_config = ConfigDict(json_schema_extra=_only_omittable)
    sku: Sku | None = None
    name: Name | None = None
    description: Description | None = None
    category: Label | None = None
    location: Label | None = None
    unit: Unit | None = None
    reorder_level: Stock | None = None
    unit_cost: Money | None = None

    @field_validator("*", mode="before")
    @classmethod
    def _no_nulls(cls, value: object) -> object:
        if value is None:
            raise ValueError("must not be null")
        return value


# One model per reason, so that the document's discriminator maps each reason to its own schema.
Inbound = Annotated[
    int, Field(ge=1, le=MAX_QUANTITY, description="positive"), BeforeValidator(_whole)
]
Outbound = Annotated[
    int, Field(ge=-MAX_QUANTITY, le=-1, description="negative"), BeforeValidator(_whole)
]
Correction = Annotated[
    int,
    Field(
        ge=-MAX_QUANTITY,
        le=MAX_QUANTITY,
        description="either sign, never zero",
        json_schema_extra={"not": {"const": 0}},
    ),
    AfterValidator(_not_zero),
    BeforeValidator(_whole),
]


class _Movement(_Strict):
    note: Note = ""


class Receive(_Movement):
    """Stock comes in: delta is positive."""

    reason: Literal["receive"]
    delta: Inbound


class Return(_Movement):
    """Stock comes back: delta is positive."""

    reason: Literal["return"]
    delta: Inbound


class Ship(_Movement):
    """Stock goes out: delta is negative."""

    reason: Literal["ship"]
    delta: Outbound


class Adjust(_Movement):
    """A correction: delta has either sign, never zero."""

    reason: Literal["adjust"]
    delta: Correction


class Count(_Movement):
    """A stock count's correction: delta has either sign, never zero."""

    reason: Literal["count"]
    delta: Correction


Movement = Receive | Return | Ship | Adjust | Count


class MovementCreate(RootModel[Movement]):
    """A stock movement; ``reason`` decides the sign of ``delta``: receive and return add stock
    (delta > 0), ship removes it (delta < 0), adjust and count correct it (delta != 0)."""

    root: Annotated[Movement, Field(discriminator="reason")]

    @property
    def reason(self) -> str:
        return self.root.reason

    @property
    def delta(self) -> int:
        return self.root.delta

    @property
    def note(self) -> str:
        return self.root.note


def _query_int(value: object) -> object:
    # Query values arrive as text: digits only (lax int would take " 5", "+5", "1_000", "5.0").
    if isinstance(value, str) and not (value.isascii() and value.isdigit()):
        raise ValueError("must be a whole number")
    return value


def _query_bool(value: object) -> object:
    if isinstance(value, str):
        if value not in ("true", "false"):
            raise ValueError("must be true or false")
        return value == "true"
    return value


QueryBool = Annotated[bool, BeforeValidator(_query_bool)]
Page = Annotated[int, Field(ge=1, le=1_000_000), BeforeValidator(_query_int)]
PerPage = Annotated[int, Field(ge=1, le=200), BeforeValidator(_query_int)]


class ItemQuery(BaseModel):
    """Query string of GET /items (lax: query values arrive as strings)."""

    model_config = ConfigDict(extra="ignore")
    q: Annotated[
        str, Field(max_length=200, description="prefix of the SKU or of the name (any case)")
    ] = ""
    category: Label | None = None
    location: Label | None = None
    low_stock: QueryBool | None = None
    sort: Annotated[SortKey, Field(description="- = descending")] = "sku"
    page: Page = 1
    per_page: PerPage = 50


class PageQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")
    page: Page = 1
    per_page: PerPage = 50


class Preconditions(BaseModel):
    """Request headers of PATCH /items/{id}."""

    if_match: Annotated[
        str | None,
        Field(
            alias="If-Match",
            pattern=IF_MATCH_PATTERN,
            examples=['"3"', "*"],
            description='the ETag of the item as last read ("3"), or * for any version; '
            "another version is 412, a malformed value 400",
        ),
    ] = None

    def version(self) -> int | None:
        """The version the update needs, or None when any version will do."""
        if self.if_match is None or self.if_match == "*":
            return None
        return int(self.if_match.removeprefix("W/").strip('"'))


# ---- responses (documentation; views build plain dicts of the same shape for speed) ----


class ItemOut(BaseModel):
    id: int
    sku: str
    name: str
    description: str
    category: str
    location: str
    unit: str
    quantity: int
    reorder_level: int
    unit_cost: Annotated[str, Field(pattern=r"^\d+\.\d{2}$", examples=["12.50"])]
    low_stock: bool
    version: int
    created_at: datetime
    updated_at: datetime


class ItemList(BaseModel):
    items: list[ItemOut]
    page: int
    per_page: int
    total: int = Field(description="Matching items, exact up to total_cap; see total_exact.")
    total_exact: bool = Field(description="False when more than total_cap items match.")


class MovementOut(BaseModel):
    id: int
    item_id: int
    delta: int
    reason: Reason
    note: str
    quantity_after: int
    user: str
    created_at: datetime


class MovementList(BaseModel):
    movements: list[MovementOut]
    page: int
    per_page: int


class ImportResult(BaseModel):
    created: int
    updated: int


class ErrorBody(BaseModel):
    code: str
    message: str
    fields: dict[str, object]


class Error(BaseModel):
    error: ErrorBody


class Health(BaseModel):
    status: Literal["ok"]
    node: str
    version: str


class Ready(BaseModel):
    status: Literal["ready", "unavailable"]
    node: str
    error: ErrorBody | None = Field(None, description="only when unavailable (503)")


class UserCreate(_Strict):
    username: Annotated[str, Field(pattern=r"^[A-Za-z0-9._-]{1,64}$", min_length=1, max_length=64)]
    role: Literal["viewer", "editor", "admin"]
    password: Annotated[str, Field(min_length=8, max_length=200)]


class UserUpdate(_Strict):
    """PATCH /users/{username}: ``active: false`` deactivates the user and ends their sessions and
    tokens at once; ``true`` lets them sign in again (with new tokens)."""

    active: bool


class UserOut(BaseModel):
    id: int
    username: str
    role: Literal["viewer", "editor", "admin"]
    active: bool


class UserList(BaseModel):
    users: list[UserOut]
