"""Request and response schemas (pydantic). The OpenAPI document is generated from these, and
request bodies are validated with them, so the spec and the behaviour cannot drift apart."""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
)

MAX_QUANTITY = 10**12  # far below BIGINT, so sums of movements can never overflow the column
SKU_PATTERN = r"^[A-Za-z0-9._-]{1,64}$"
# JSON Schema and pydantic both use "search" semantics: this means "has a non-space character".
NOT_BLANK = r"\S"
Reason = Literal["receive", "ship", "adjust", "count", "return"]
SortKey = Literal[
    "sku", "-sku", "name", "-name", "quantity", "-quantity", "updated_at", "-updated_at"
]

Sku = Annotated[
    str, Field(pattern=SKU_PATTERN, min_length=1, max_length=64, examples=["BOLT-M8-40"])
]
Name = Annotated[str, Field(min_length=1, max_length=200, pattern=NOT_BLANK)]
Description = Annotated[str, Field(max_length=2000)]
Label = Annotated[str, Field(max_length=64)]
Unit = Annotated[str, Field(min_length=1, max_length=16, pattern=NOT_BLANK)]
Count = Annotated[int, Field(ge=0, le=MAX_QUANTITY)]
MONEY_PATTERN = r"^[0-9]{1,10}(\.[0-9]{1,2})?$"


def _money_input(value: object) -> object:
    if isinstance(value, bool) or (isinstance(value, str) and not _MONEY_RE.match(value)):
        raise ValueError("must be a decimal number like 12.50 (at most 2 decimal places)")
    return value


_MONEY_RE = re.compile(MONEY_PATTERN)
Money = Annotated[
    Decimal,
    BeforeValidator(_money_input),
    Field(ge=0, max_digits=12, decimal_places=2, strict=False, allow_inf_nan=False),
    # Documented as what we accept: a JSON number or a decimal string with at most 2 places.
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "number", "minimum": 0, "maximum": 9999999999.99},
                {"type": "string", "pattern": MONEY_PATTERN, "examples": ["12.50"]},
            ]
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
    quantity: Count = 0
    reorder_level: Count = 0
    unit_cost: Money = Decimal("0")


class ItemUpdate(_Strict):
    """Every field optional; ``quantity`` is not accepted (stock changes only through movements)."""

    sku: Sku | None = None
    name: Name | None = None
    description: Description | None = None
    category: Label | None = None
    location: Label | None = None
    unit: Unit | None = None
    reorder_level: Count | None = None
    unit_cost: Money | None = None

    @field_validator("*", mode="before")
    @classmethod
    def _no_nulls(cls, value: object) -> object:
        if value is None:
            raise ValueError("must not be null")
        return value


class MovementCreate(_Strict):
    """A stock movement. receive and return need delta > 0, ship needs delta < 0."""

    reason: Reason
    delta: Annotated[
        int,
        Field(ge=-MAX_QUANTITY, le=MAX_QUANTITY, json_schema_extra={"not": {"const": 0}}),
    ]
    note: Annotated[str, Field(max_length=500)] = ""

    @field_validator("delta")
    @classmethod
    def _sign(cls, value: int, info: ValidationInfo) -> int:
        reason = info.data.get("reason")  # validated before delta (declared first)
        if value == 0:
            raise ValueError("must not be zero")
        if reason in ("receive", "return") and value < 0:
            raise ValueError(f"a {reason} must be positive")
        if reason == "ship" and value > 0:
            raise ValueError("a ship must be negative")
        return value


class ItemQuery(BaseModel):
    """Query string of GET /items (lax: query values arrive as strings)."""

    model_config = ConfigDict(extra="ignore")
    q: Annotated[str, Field(max_length=200)] = ""
    category: Label | None = None
    location: Label | None = None
    low_stock: bool | None = None
    sort: SortKey = "sku"
    page: Annotated[int, Field(ge=1, le=1_000_000)] = 1
    per_page: Annotated[int, Field(ge=1, le=200)] = 50


class PageQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")
    page: Annotated[int, Field(ge=1, le=1_000_000)] = 1
    per_page: Annotated[int, Field(ge=1, le=200)] = 50


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
