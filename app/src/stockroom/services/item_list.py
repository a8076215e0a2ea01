"""GET /items: the list query (filters, sort, pages, capped totals) and its JSON text."""

from __future__ import annotations

import functools
import json
import math
import time
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, Row, String, and_, bindparam, func, literal, select, union
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session

from stockroom.caches import caches
from stockroom.config import GROUP_CONCAT_MAX_LEN
from stockroom.db import first, is_mysql
from stockroom.schemas import ItemQuery
from stockroom.services.items import ITEM_JSON, item_dict, items_t, text_of
from stockroom.services.page_cache import CHANGES_IN_PAGE, Page, cached_page, keep_page

# Counting every match of a broad filter at 1M rows costs a scan per request, so list totals are
# exact only up to this many rows; beyond it the API says total_exact=false (see docs/app.md).
TOTAL_CAP = 10_000
_SORTS = {name: items_t.c[name] for name in ("sku", "name", "quantity", "updated_at")}


class _Shape(NamedTuple):
    """What a list statement looks like; the values go in as bind parameters."""

    sort: str
    q: bool
    category: bool
    location: bool
    low_stock: bool


def _shape(query: ItemQuery) -> _Shape:
    return _Shape(
        query.sort,
        bool(query.q),
        query.category is not None,
        query.location is not None,
        query.low_stock is not None,
    )


def _params(query: ItemQuery) -> dict[str, Any]:
    prefix = (query.q or "").replace("!", "!!").replace("%", "!%").replace("_", "!_") + "%"
    return {
        "prefix": prefix,
        "category": query.category,
        "location": query.location,
        "low_stock": query.low_stock,
        "lim": query.per_page,
        "off": (query.page - 1) * query.per_page,
    }


def _source(shape: _Shape) -> Any:
    """FROM clause of the list: the items table, or for ``q`` the items whose SKU or name starts
    with q. Each prefix is an index range scan; the UNION of the two id sets is what a plain
    ``sku LIKE .. OR name LIKE ..`` cannot give (that would scan the whole table at 1M rows)."""
    if not shape.q:
        return items_t
    prefix = bindparam("prefix")
    matches = union(
        select(items_t.c.id).where(items_t.c.sku.like(prefix, escape="!")),
        select(items_t.c.id).where(items_t.c.name.like(prefix, escape="!")),
    ).subquery("matches")
    return items_t.join(matches, matches.c.id == items_t.c.id)


class _GroupConcat(ColumnElement[str]):
    """MySQL's GROUP_CONCAT(expr ORDER BY ...): the rows' texts joined by commas, in order.

    Not cacheable by SQLAlchemy: its cache key would not cover expr and order. The one statement
    using it runs as SQL text compiled once (db.first)."""

    inherit_cache = False
    type = String()

    def __init__(self, expr: Any, *order: Any) -> None:
        self.expr, self.order = expr, order


@compiles(_GroupConcat)
def _compile_group_concat(element: _GroupConcat, compiler: Any, **kw: Any) -> str:
    order = ", ".join(compiler.process(o, **kw) for o in element.order)
    return f"GROUP_CONCAT({compiler.process(element.expr, **kw)} ORDER BY {order})"


class _ListStatements(NamedTuple):
    rows: Any  # full item rows of one page
    docs: Any  # the same page as one text of comma-separated item JSON objects (MySQL/MariaDB)
    count: Any  # matching rows, counted up to TOTAL_CAP + 1


@functools.lru_cache(maxsize=256)
def _statements(shape: _Shape) -> _ListStatements:
    """Statements of one list shape, built once: SQLAlchemy's per-request statement building was
    a tenth of a list request's CPU."""
    col = _SORTS[shape.sort.lstrip("-")]
    desc = shape.sort.startswith("-")
    order = [col.desc() if desc else col.asc()]
    if col is not items_t.c.sku:  # sku is unique; other keys need the id as a stable tie-breaker
        order.append(items_t.c.id.desc() if desc else items_t.c.id.asc())
    source = _source(shape)
    where = and_(
        True,
        *(
            items_t.c[n] == bindparam(n)
            for n in ("category", "location", "low_stock")
            if getattr(shape, n)
        ),
    )
    # Deferred join: walk only the (covering) index to skip `off` rows, then fetch full rows for
    # the page alone.
    ids = (
        select(items_t.c.id)
        .select_from(source)
        .where(where)
        .order_by(*order)
        .limit(bindparam("lim"))
        .offset(bindparam("off"))
        .subquery("page_ids")
    )
    page = items_t.join(ids, items_t.c.id == ids.c.id)
    capped = select(literal(1)).select_from(source).where(where).limit(TOTAL_CAP + 1)
    return _ListStatements(
        rows=select(items_t).select_from(page).order_by(*order),
        docs=select(_GroupConcat(ITEM_JSON, *order), func.count(), CHANGES_IN_PAGE).select_from(
            page
        ),
        count=select(func.count(), CHANGES_IN_PAGE).select_from(capped.subquery()),
    )


class Counted(NamedTuple):
    counted_at: float
    total: int
    changes: Any  # SUM(item_changes.n) the count saw (None where there are no counters)


def _filter_key(query: ItemQuery) -> tuple[Any, ...]:
    """What decides which items a list matches (and so its total)."""
    return (query.q, query.category, query.location, query.low_stock)


def _total(
    conn: Engine | Connection, query: ItemQuery, count: int, changes: Any = None
) -> tuple[int, bool, float]:
    """(total, exact, valid_until) of a list whose page held ``count`` rows and was read at
    item_changes sum ``changes``. Paging through one filter costs one capped count per
    STOCKROOM_COUNT_CACHE_SECONDS. valid_until is when a cached copy of this page must be read
    again although nothing changed: never when the total was counted at the same sum."""
    if query.page == 1 and count < query.per_page:
        return count, True, math.inf
    counts, key = caches().counts, _filter_key(query)
    counted: Counted | None = counts.get(key)
    if counted is None:
        total, at = first(conn, _statements(_shape(query)).count, _params(query))
        counted = Counted(time.monotonic(), total, at)
        counts.put(key, counted)
    exact_now = changes is not None and counted.changes == changes
    valid_until = math.inf if exact_now else counted.counted_at + counts.cache.ttl
    return min(counted.total, TOTAL_CAP), counted.total <= TOTAL_CAP, valid_until


def list_items(source: Session | Connection, query: ItemQuery) -> tuple[list[Row[Any]], int, bool]:
    """One page of item rows plus (total, total_exact): the web UI's list, and the API's where
    the database cannot build the JSON text."""
    conn = source if isinstance(source, Connection) else source.connection()
    rows = list(conn.execute(_statements(_shape(query)).rows, _params(query)))
    return rows, *_total(conn, query, len(rows))[:2]


def list_item_docs(source: Engine | Connection, query: ItemQuery) -> tuple[str, int, bool]:
    """Like list_items, but the page's items as comma-separated JSON objects of item_dict().

    On MySQL/MariaDB the database builds that text in one row (ITEM_JSON: a quarter of the app
    CPU of encoding the rows here), and a page read before is served again while no item changed
    (page_cache.py; docs/benchmarks.md has both figures). SQLite (development), and a text the
    database cut short at group_concat_max_len, take the rows and encode them here."""
    if is_mysql(source.dialect):
        key = (*_filter_key(query), query.sort, query.page, query.per_page)
        if (page := cached_page(source, key)) is not None:
            return page.text, page.total, page.exact
        text, count, changes = first(source, _statements(_shape(query)).docs, _params(query))
        text = text_of(text) if text is not None else ""
        if len(text.encode()) < GROUP_CONCAT_MAX_LEN - 4:
            total, exact, valid_until = _total(source, query, count, changes)
            keep_page(key, Page(changes, valid_until, text, total, exact))
            return text, total, exact
    if isinstance(source, Engine):
        with source.connect() as conn:
            rows, total, exact = list_items(conn, query)
    else:
        rows, total, exact = list_items(source, query)
    return ",".join(json.dumps(item_dict(r)) for r in rows), total, exact
