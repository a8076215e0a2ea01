"""Items, movements, CSV import/export."""

from __future__ import annotations

import json
from typing import Any

from flask import Response, current_app, g, jsonify, request, stream_with_context, url_for

from stockroom.api import bp
from stockroom.api.helpers import parse_headers, parse_json, parse_query, require
from stockroom.db import reader
from stockroom.errors import MalformedRequest, UnsupportedMediaType
from stockroom.extensions import db
from stockroom.schemas import (
    CSV_MEDIA_TYPES,
    ItemCreate,
    ItemQuery,
    ItemUpdate,
    MovementCreate,
    PageQuery,
    Preconditions,
)
from stockroom.services import csvio, item_list, movements
from stockroom.services import items as svc


def _item_response(row: Any, status: int = 200) -> Any:
    resp = jsonify(svc.item_dict(row))
    resp.status_code = status
    resp.headers["ETag"] = f'"{row.version}"'
    return resp


@bp.get("/items")
@require("viewer")
def list_items() -> Any:
    query = parse_query(ItemQuery)
    docs, total, exact = item_list.list_item_docs(reader(db.session), query)
    # The items arrive as JSON text: splice them in rather than decode and encode them again.
    rest = json.dumps(
        {"page": query.page, "per_page": query.per_page, "total": total, "total_exact": exact}
    )
    body = '{"items": [' + docs + "], " + rest[1:]
    return current_app.response_class(body, mimetype="application/json")


@bp.post("/items")
@require("editor")
def create_item() -> Any:
    data = parse_json(ItemCreate)
    item_id = svc.create_item(db.session, data, g.principal.username)
    resp = _item_response(svc.get_item(db.session, item_id), 201)
    resp.headers["Location"] = url_for("api.get_item", item_id=item_id)
    return resp


@bp.get("/items/<int:item_id>")
@require("viewer")
def get_item(item_id: int) -> Any:
    doc, version = svc.get_item_doc(reader(db.session), item_id)
    resp = current_app.response_class(doc, mimetype="application/json")
    resp.headers["ETag"] = f'"{version}"'
    return resp


@bp.patch("/items/<int:item_id>")
@require("editor")
def update_item(item_id: int) -> Any:
    version = parse_headers(Preconditions).version()
    data = parse_json(ItemUpdate)
    return _item_response(svc.update_item(db.session, item_id, data, version))


@bp.delete("/items/<int:item_id>")
@require("editor")
def delete_item(item_id: int) -> Any:
    svc.delete_item(db.session, item_id)
    return "", 204


@bp.post("/items/<int:item_id>/movements")
@require("editor")
def create_movement(item_id: int) -> Any:
    data = parse_json(MovementCreate)
    row = movements.record_movement(
        db.session,
        item_id,
        delta=data.delta,
        reason=data.reason,
        note=data.note,
        username=g.principal.username,
    )
    return jsonify(row), 201


@bp.get("/items/<int:item_id>/movements")
@require("viewer")
def list_movements(item_id: int) -> Any:
    query = parse_query(PageQuery)
    rows = movements.list_movements(db.session, item_id, query.page, query.per_page)
    docs = [movements.movement_dict(r) for r in rows]
    return jsonify(movements=docs, page=query.page, per_page=query.per_page)


@bp.get("/export/items.csv")
@require("viewer")
def export_items() -> Any:
    body = stream_with_context(csvio.export_rows(db.session))
    return Response(
        body,
        mimetype="text/csv",
        headers={"Content-Disposition": 'attachment; filename="items.csv"'},
    )


@bp.post("/import/items")
@require("editor")
def import_items() -> Any:
    items = csvio.parse_csv(_csv_upload())
    created, updated = csvio.import_items(db.session, items, g.principal.username)
    return jsonify(created=created, updated=updated)


def _csv_upload() -> bytes:
    """The CSV of an import: a text/csv body or the multipart part "file" (a file or a field)."""
    charset = request.mimetype_params.get("charset", "utf-8").lower()
    if request.mimetype not in CSV_MEDIA_TYPES or charset not in ("utf-8", "utf8"):
        raise UnsupportedMediaType(
            "send the CSV as text/csv (UTF-8) or as the multipart/form-data part 'file'",
            {"Content-Type": f"one of {', '.join(CSV_MEDIA_TYPES)}; charset utf-8"},
        )
    if request.mimetype == "text/csv":
        return request.get_data(cache=False)
    upload = request.files.get("file")
    if upload is not None:
        return upload.read()
    if "file" in request.form:
        return request.form["file"].encode()
    raise MalformedRequest("multipart upload needs a 'file' part", {"file": "required"})
