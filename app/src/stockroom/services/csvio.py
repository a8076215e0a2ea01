"""CSV export (streamed, constant memory) and all-or-nothing CSV import (upsert by sku)."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from typing import Any

from pydantic import ValidationError
from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.orm import Session

from stockroom.errors import UnsupportedMediaType, ValidationFailed
from stockroom.models import utcnow
from stockroom.schemas import ItemCreate
from stockroom.services.items import items_t, money, moves_t
from stockroom.services.stock_alerts import OUTBOX_INSERT, Publisher, publisher

COLUMNS = [
    "sku", "name", "description", "category", "location", "unit", "quantity",
    "reorder_level", "unit_cost",
]  # fmt: skip
TEXT_COLUMNS = COLUMNS[:6]  # sku .. unit; the rest are numbers we format ourselves
INT_RE = re.compile(r"^[+-]?[0-9]{1,19}$")
# OWASP "CSV injection": a spreadsheet runs a cell that starts with one of these as a formula.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
CHUNK = 1000
MAX_ROWS = 200_000
MAX_REPORTED = 100


def _csv_line(values: list[Any]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(values)
    return buf.getvalue()


def neutralise(text: str) -> str:
    """Prefix a quote to a cell a spreadsheet would run as a formula, and to one that already
    starts with a quote, so that ``restore`` takes exactly one off (a lossless round trip)."""
    return "'" + text if text.startswith((*FORMULA_START, "'")) else text


def restore(text: str) -> str:
    """Undo ``neutralise`` on import: one leading quote before a formula character or a quote."""
    return text[1:] if text[:1] == "'" and text[1:2] and text[1] in "=+-@\t\r'" else text


def export_rows(session: Session) -> Iterator[str]:
    """Yield the CSV in chunks; keyset pagination by id keeps memory and each query small."""
    yield _csv_line(COLUMNS)
    last_id = 0
    cols = [items_t.c.id] + [items_t.c[c] for c in COLUMNS]
    while True:
        rows = session.execute(
            select(*cols).where(items_t.c.id > last_id).order_by(items_t.c.id).limit(CHUNK)
        ).all()
        if not rows:
            break
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        for r in rows:
            writer.writerow([*map(neutralise, r[1:7]), r[7], r[8], money(r[9])])
        last_id = rows[-1][0]
        session.rollback()  # end the read transaction between chunks (no long snapshot)
        yield buf.getvalue()


def _row_errors(exc: ValidationError) -> dict[str, str]:
    return {str(e["loc"][0]) if e["loc"] else "row": e["msg"] for e in exc.errors()}


def _parse_row(header: list[str], raw: list[str]) -> tuple[ItemCreate | None, dict[str, str]]:
    if len(raw) != len(header):
        return None, {"row": f"expected {len(header)} fields, got {len(raw)}"}
    rec: dict[str, Any] = {k: v.strip() for k, v in zip(header, raw, strict=True)}
    for key in TEXT_COLUMNS:
        if key in rec:
            rec[key] = restore(rec[key])
    bad: dict[str, str] = {}
    for key in ("quantity", "reorder_level"):
        value = rec.get(key, "")
        if value == "":
            rec.pop(key, None)
        elif INT_RE.match(value):
            rec[key] = int(value)
        else:
            bad[key] = "must be a whole number"
            rec.pop(key)
    for key in ("description", "category", "location", "unit", "unit_cost"):
        if rec.get(key) == "":
            rec.pop(key)
    try:
        item = ItemCreate.model_validate(rec)
    except ValidationError as exc:
        bad.update(_row_errors(exc))
        return None, bad
    return (None if bad else item), bad


def _read_header(reader: Iterator[list[str]]) -> list[str]:
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        raise ValidationFailed("the file is empty", {"file": "header row missing"}) from None
    except csv.Error as exc:
        raise ValidationFailed("unreadable CSV", {"file": str(exc)}) from None
    missing = [c for c in ("sku", "name") if c not in header]
    unknown = [h for h in header if h not in COLUMNS]
    if missing or unknown or len(set(header)) != len(header):
        raise ValidationFailed(
            "bad header",
            {"header": f"expected columns {','.join(COLUMNS)} (sku and name required)"},
        )
    return header


def parse_csv(data: bytes) -> list[ItemCreate]:
    """Validate the whole file first; raise ValidationFailed listing every bad row."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        # 415: the content is not in a format we take (RFC 9110 15.5.16), not a bad row.
        raise UnsupportedMediaType(
            "the file is not UTF-8 text", {"file": "must be UTF-8"}
        ) from None
    reader = csv.reader(io.StringIO(text, newline=""))
    header = _read_header(reader)
    items: list[ItemCreate] = []
    errors: dict[str, dict[str, str]] = {}
    seen: dict[str, int] = {}
    try:
        for line_no, raw in enumerate(reader, start=2):
            if not any(cell.strip() for cell in raw):
                continue  # blank line
            if len(items) + len(errors) >= MAX_ROWS:
                raise ValidationFailed("too many rows", {"file": f"at most {MAX_ROWS} rows"})
            item, bad = _parse_row(header, raw)
            if item is not None:
                if item.sku in seen:
                    bad["sku"] = f"duplicate of row {seen[item.sku]}"
                seen.setdefault(item.sku, line_no)
            if bad:
                errors[str(line_no)] = bad
            elif item is not None:
                items.append(item)
    except csv.Error as exc:
        raise ValidationFailed("unreadable CSV", {"file": str(exc)}) from None
    if errors:
        shown = dict(list(errors.items())[:MAX_REPORTED])
        rows = ", ".join(shown)
        raise ValidationFailed(f"{len(errors)} row(s) failed validation: {rows}", {"rows": shown})
    return items


def import_items(session: Session, items: list[ItemCreate], username: str) -> tuple[int, int]:
    """Upsert in one transaction; quantity changes are recorded as 'count' movements, and one
    that takes an item from above its reorder level to at or below it writes a low-stock event
    (services/stock_alerts.py) in the same transaction."""
    now = utcnow()
    created = updated = events = 0
    alerts = publisher()  # None without a topic: no event is written
    try:
        for start in range(0, len(items), CHUNK):
            chunk = items[start : start + CHUNK]
            skus = [i.sku for i in chunk]
            existing = {
                r.sku: r
                for r in session.execute(
                    select(items_t.c.id, items_t.c.sku, items_t.c.quantity, items_t.c.reorder_level)
                    .where(items_t.c.sku.in_(skus))
                    .with_for_update()
                )
            }
            new = [i for i in chunk if i.sku not in existing]
            old = [i for i in chunk if i.sku in existing]
            if new:
                session.execute(
                    insert(items_t),
                    [
                        i.model_dump() | {"version": 1, "created_at": now, "updated_at": now}
                        for i in new
                    ],
                )
                ids = dict(
                    session.execute(
                        select(items_t.c.sku, items_t.c.id).where(
                            items_t.c.sku.in_([i.sku for i in new])
                        )
                    ).all()
                )
                moves = [(ids[i.sku], i.quantity, i.quantity) for i in new if i.quantity]
                _insert_moves(session, moves, username, now)
            if old:
                _update_existing(session, old, existing, username, now)
                if alerts is not None:
                    events += _low_stock_events(session, old, existing, now, alerts)
            created += len(new)
            updated += len(old)
        session.commit()
    except Exception:
        session.rollback()
        raise
    if events and alerts is not None:
        alerts.kick()  # publish after the commit
    return created, updated


def _low_stock_events(
    session: Session, old: list[ItemCreate], existing: dict[str, Any], now: Any, alerts: Publisher
) -> int:
    """One outbox row per 'count' movement that took its item from above its reorder level (as
    it was) to at or below it (as the row leaves it); the rows are locked (SELECT ... FOR UPDATE),
    so the item's newest movement is the import's."""
    crossed = []
    for i in old:
        before = existing[i.sku]
        fields = i.model_fields_set
        level = i.reorder_level if "reorder_level" in fields else before.reorder_level
        moved = "quantity" in fields and i.quantity != before.quantity
        if moved and before.quantity > before.reorder_level and i.quantity <= level:
            crossed.append(before.id)
    if crossed:
        last = func.max(moves_t.c.id)
        moves = dict(
            session.execute(
                select(moves_t.c.item_id, last)
                .where(moves_t.c.item_id.in_(crossed))
                .group_by(moves_t.c.item_id)
            ).all()
        )
        for item_id in crossed:
            params = alerts.outbox_params({"b_id": item_id, "b_now": now}, moves[item_id])
            session.execute(OUTBOX_INSERT, params)
    return len(crossed)


def _update_existing(
    session: Session, old: list[ItemCreate], existing: dict[str, Any], username: str, now: Any
) -> None:
    # Empty cells and absent columns keep the current value, so rows are grouped by the set of
    # fields they change (executemany needs uniform parameters).
    groups: dict[tuple[str, ...], list[ItemCreate]] = {}
    for i in old:
        keys = tuple(sorted(i.model_fields_set - {"sku"}))
        groups.setdefault(keys, []).append(i)
    for keys, rows in groups.items():
        stmt = (
            update(items_t)
            .where(items_t.c.id == bindparam("b_id"))
            .values({c: bindparam(f"b_{c}") for c in keys})
            .values(version=items_t.c.version + 1, updated_at=now)
        )
        params = [
            {"b_id": existing[i.sku].id} | {f"b_{c}": getattr(i, c) for c in keys} for i in rows
        ]
        session.execute(stmt, params)
    moves = [
        (existing[i.sku].id, i.quantity - existing[i.sku].quantity, i.quantity)
        for i in old
        if "quantity" in i.model_fields_set and i.quantity != existing[i.sku].quantity
    ]
    _insert_moves(session, moves, username, now)


def _insert_moves(
    session: Session, moves: list[tuple[int, int, int]], username: str, now: Any
) -> None:
    if moves:
        session.execute(
            insert(moves_t),
            [
                {
                    "item_id": item_id,
                    "delta": delta,
                    "reason": "count",
                    "note": "CSV import",
                    "quantity_after": after,
                    "username": username,
                    "created_at": now,
                }
                for item_id, delta, after in moves
            ],
        )
