"""Server-rendered web UI (session login, CSRF on every form)."""

from flask import Blueprint

bp = Blueprint("web", __name__)

from stockroom.web import views  # noqa: E402,F401  (routes register on import)
