"""JSON API blueprint (/api/v1). Views are thin: parse, authorise, call a service, serialise."""

from flask import Blueprint

bp = Blueprint("api", __name__)

from stockroom.api import items, users  # noqa: E402,F401  (routes register on import)
