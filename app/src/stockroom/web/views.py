"""Web UI views: thin wrappers around the same service layer as the API."""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar
from urllib.parse import urlencode, urlsplit

from flask import (
    Response,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    stream_with_context,
    url_for,
)
from pydantic import ValidationError

from stockroom.api.helpers import field_errors
from stockroom.errors import StockroomError, TooManyRequests, Unauthorized
from stockroom.extensions import db
from stockroom.schemas import ItemCreate, ItemQuery, ItemUpdate, MovementCreate
from stockroom.services import csvio, item_list, movements, stats, users
from stockroom.services import items as svc
from stockroom.web import bp

F = TypeVar("F", bound=Callable[..., Any])
EDITABLE = (
    "sku",
    "name",
    "description",
    "category",
    "location",
    "unit",
    "reorder_level",
    "unit_cost",
)


@bp.before_request
def _load_user() -> None:
    # Only for web pages: /healthz and the API never read the session (or the database for it).
    g.user = None
    uid = session.get("uid")
    if not isinstance(uid, int):
        return
    user = users.principal_by_id(db.session, uid)
    started = session.get("iat")
    lifetime = current_app.permanent_session_lifetime.total_seconds()
    if (
        user is not None
        and session.get("sv") == user.session_version
        and isinstance(started, int)
        and 0 <= time.time() - started < lifetime
    ):
        g.user = user
    else:  # ended by logout, a new password or deactivation elsewhere, or simply too old
        session.clear()


def login_required(role: str = "viewer") -> Callable[[F], F]:
    def wrap(view: F) -> F:
        @wraps(view)
        def inner(*args: Any, **kwargs: Any) -> Any:
            if g.user is None:
                return redirect(url_for("web.login", next=request.full_path.rstrip("?")))
            if not g.user.can(role):
                abort(403)
            return view(*args, **kwargs)

        return inner  # type: ignore[return-value]

    return wrap


def same_site_path(target: str) -> bool:
    """Only a path on this site may be redirected to after sign-in: no scheme, no host, and no
    control character or backslash (browsers drop tabs and newlines from a URL and read a
    backslash as a slash, so "/<TAB>/evil.com" or "/<BACKSLASH>evil.com" would lead away)."""
    if not target.startswith("/") or target.startswith("//"):
        return False
    if any(ch < " " or ch in "\x7f\\" for ch in target):
        return False
    parts = urlsplit(target)
    return not parts.scheme and not parts.netloc


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    error, status, headers = None, 200, {}
    if request.method == "POST":
        settings = current_app.config["STOCKROOM_SETTINGS"]
        try:
            principal = users.sign_in(
                db.session,
                request.form.get("username", ""),
                request.form.get("password", ""),
                request.remote_addr,
                settings.password_method,
            )
        except TooManyRequests as exc:
            error, status = exc.message, exc.status
            headers["Retry-After"] = str(exc.retry_after)
        except Unauthorized as exc:
            error, status = exc.message, exc.status
        else:
            session.clear()
            session.permanent = True  # the cookie expires with the session (12 h by default)
            session.update(uid=principal.id, sv=principal.session_version, iat=int(time.time()))
            target = request.args.get("next", "")
            return redirect(target if same_site_path(target) else url_for("web.dashboard"))
    return render_template("login.html", error=error), status, headers


@bp.post("/logout")
def logout() -> Any:
    if g.user is not None:
        users.end_sessions(db.session, g.user.id)  # on every device, not just this cookie
    session.clear()
    flash("Signed out.", "info")
    return redirect(url_for("web.login"))


@bp.get("/")
@login_required()
def dashboard() -> Any:
    return render_template(
        "dashboard.html",
        totals=stats.totals(db.session),
        recent=movements.recent_movements(db.session, 10),
    )


def _query_from_args() -> tuple[ItemQuery, dict[str, str]]:
    args = {k: v for k, v in request.args.items() if v != ""}
    try:
        query = ItemQuery.model_validate(args)
    except ValidationError:
        flash("Some filters were invalid and have been reset.", "error")
        args, query = {}, ItemQuery()
    return query, args


@bp.get("/items")
@login_required()
def items() -> Any:
    query, args = _query_from_args()
    return _render_list(query, args, "Items")


@bp.get("/low-stock")
@login_required()
def low_stock() -> Any:
    args = {k: v for k, v in request.args.items() if v != ""}
    args.setdefault("sort", "quantity")
    args["low_stock"] = "true"
    try:
        query = ItemQuery.model_validate(args)
    except ValidationError:
        query = ItemQuery(low_stock=True, sort="quantity")
    return _render_list(query, args, "Low stock")


def _render_list(query: ItemQuery, args: dict[str, str], title: str) -> Any:
    rows, total, exact = item_list.list_items(db.session, query)

    def page_url(page: int) -> str:
        return request.path + "?" + urlencode(args | {"page": str(page)})

    def sort_url(key: str) -> str:
        current = query.sort
        new = f"-{key}" if current == key else key
        return (
            request.path
            + "?"
            + urlencode({k: v for k, v in args.items() if k != "page"} | {"sort": new})
        )

    return render_template(
        "items.html",
        title=title,
        items=[svc.item_dict(r) for r in rows],
        query=query,
        total=total,
        exact=exact,
        has_next=len(rows) == query.per_page and (not exact or query.page * query.per_page < total),
        page_url=page_url,
        sort_url=sort_url,
        categories=stats.categories(db.session),
        locations=stats.locations(db.session),
    )


def _form_values(form: Any, fields: tuple[str, ...]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for key in fields:
        raw = form.get(key)
        if raw is None:
            continue
        raw = raw.strip()
        if key in ("quantity", "reorder_level"):
            values[key] = int(raw) if raw.lstrip("-").isdigit() and len(raw) < 19 else raw
        else:
            values[key] = raw
    return values


@bp.route("/items/new", methods=["GET", "POST"])
@login_required("editor")
def item_new() -> Any:
    errors: dict[str, str] = {}
    form: dict[str, Any] = {"unit": "pcs", "quantity": 0, "reorder_level": 0, "unit_cost": "0.00"}
    if request.method == "POST":
        form = _form_values(request.form, (*EDITABLE, "quantity"))
        try:
            data = ItemCreate.model_validate(_drop_empty(form))
            item_id = svc.create_item(db.session, data, g.user.username)
        except ValidationError as exc:
            errors = field_errors(exc)
        except StockroomError as exc:
            errors = exc.fields or {"form": exc.message}
        else:
            stats.clear()
            flash(f"Created {data.sku}.", "success")
            return redirect(url_for("web.item_detail", item_id=item_id))
    return render_template(
        "item_form.html", form=form, errors=errors, item=None
    ), 422 if errors else 200


def _drop_empty(values: dict[str, Any]) -> dict[str, Any]:
    keep = ("sku", "name")
    return {k: v for k, v in values.items() if v != "" or k in keep}


@bp.route("/items/<int:item_id>/edit", methods=["GET", "POST"])
@login_required("editor")
def item_edit(item_id: int) -> Any:
    item = svc.item_dict(svc.get_item(db.session, item_id))
    errors: dict[str, str] = {}
    form: dict[str, Any] = dict(item)
    if request.method == "POST":
        form = _form_values(request.form, EDITABLE)
        version = request.form.get("version", "")
        try:
            data = ItemUpdate.model_validate(
                {k: v for k, v in form.items() if v != "" or k in ("sku", "name")}
            )
            svc.update_item(db.session, item_id, data, int(version) if version.isdigit() else -1)
        except ValidationError as exc:
            errors = field_errors(exc)
        except StockroomError as exc:
            errors = exc.fields or {"form": exc.message}
            if exc.status == 412:
                errors = {"form": "Someone else changed this item meanwhile. Reload and try again."}
        else:
            flash("Saved.", "success")
            return redirect(url_for("web.item_detail", item_id=item_id))
        form["version"] = version
    return render_template(
        "item_form.html", form=form, errors=errors, item=item
    ), 422 if errors else 200


@bp.post("/items/<int:item_id>/delete")
@login_required("editor")
def item_delete(item_id: int) -> Any:
    svc.delete_item(db.session, item_id)
    stats.clear()
    flash("Item deleted.", "success")
    return redirect(url_for("web.items"))


@bp.get("/items/<int:item_id>")
@login_required()
def item_detail(item_id: int) -> Any:
    item = svc.item_dict(svc.get_item(db.session, item_id))
    page = request.args.get("page", "1")
    page_no = int(page) if page.isdigit() and 0 < int(page) < 100_000 else 1
    moves = movements.list_movements(db.session, item_id, page_no, 25, check_item=False)
    return render_template(
        "item_detail.html",
        item=item,
        movements=[movements.movement_dict(m) for m in moves],
        page=page_no,
        has_next=len(moves) == 25,
        errors={},
    )


@bp.post("/items/<int:item_id>/movements")
@login_required("editor")
def item_move(item_id: int) -> Any:
    form = request.form
    amount = form.get("amount", "").strip()
    reason = form.get("reason", "")
    errors: dict[str, str] = {}
    if not amount.lstrip("-").isdigit() or len(amount) > 13:
        errors["amount"] = "Enter a whole number."
    else:
        # Ship is entered as a positive amount and stored as a negative delta.
        delta = -abs(int(amount)) if reason == "ship" else int(amount)
        try:
            data = MovementCreate.model_validate(
                {"delta": delta, "reason": reason, "note": form.get("note", "").strip()}
            )
            movements.record_movement(
                db.session,
                item_id,
                delta=data.delta,
                reason=data.reason,
                note=data.note,
                username=g.user.username,
            )
        except ValidationError as exc:
            errors = field_errors(exc)
        except StockroomError as exc:
            if exc.status == 404:
                raise
            errors = {"amount": exc.message}
    if errors:
        item = svc.item_dict(svc.get_item(db.session, item_id))
        moves = movements.list_movements(db.session, item_id, 1, 25, check_item=False)
        return render_template(
            "item_detail.html",
            item=item,
            movements=[movements.movement_dict(m) for m in moves],
            page=1,
            has_next=len(moves) == 25,
            errors=errors,
        ), 409 if "stock" in errors.get("amount", "") else 422
    flash(f"Recorded {reason} of {abs(int(amount))}.", "success")
    return redirect(url_for("web.item_detail", item_id=item_id))


@bp.route("/import", methods=["GET", "POST"])
@login_required()
def import_export() -> Any:
    result = None
    errors: dict[str, Any] = {}
    status = 200
    if request.method == "POST":
        if not g.user.can("editor"):
            abort(403)
        upload = request.files.get("file")
        try:
            items = csvio.parse_csv(upload.read() if upload else b"")
            result = csvio.import_items(db.session, items, g.user.username)
            stats.clear()
        except StockroomError as exc:
            errors = {"message": exc.message, "fields": exc.fields}
            status = exc.status
    return render_template(
        "import.html", result=result, errors=errors, columns=csvio.COLUMNS
    ), status


@bp.get("/export.csv")
@login_required()
def export_csv() -> Any:
    return Response(
        stream_with_context(csvio.export_rows(db.session)),
        mimetype="text/csv",
        headers={"Content-Disposition": 'attachment; filename="items.csv"'},
    )
