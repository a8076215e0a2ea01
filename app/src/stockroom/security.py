"""HTTP hardening wired by the factory: the proxy hop we trust, request body limits and the
security headers (docs/security.md)."""

from __future__ import annotations

from typing import Any

from flask import Flask, g, request
from werkzeug.middleware.proxy_fix import ProxyFix

from stockroom.config import Settings

# The CSV import routes take bodies up to STOCKROOM_IMPORT_MAX_BYTES, everything else
# STOCKROOM_MAX_BODY_BYTES (Flask's MAX_CONTENT_LENGTH).
IMPORT_ENDPOINTS = frozenset({"api.import_items", "web.import_export"})
# Scripts and styles only from our own static files: no inline code, no third party.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
HSTS = "max-age=31536000"


def init_app(app: Flask, settings: Settings) -> None:
    """Call before csrf.init_app: the import limit must be raised before CSRF reads the form."""
    if settings.proxy_hops > 0:
        # X-Forwarded-For/-Proto as the nearest N proxies (the ALB or HAProxy) set them; any
        # value a client sent itself stays to the left and is ignored.
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=settings.proxy_hops, x_proto=settings.proxy_hops
        )

    @app.before_request
    def _body_limit() -> None:
        if request.endpoint in IMPORT_ENDPOINTS:
            request.max_content_length = settings.import_max_bytes

    @app.after_request
    def _security_headers(response: Any) -> Any:
        headers = response.headers
        headers.setdefault("Content-Security-Policy", CSP)
        # Same-origin only: Flask-WTF compares the Referer with the host on HTTPS.
        headers.setdefault("Referrer-Policy", "same-origin")
        if request.is_secure:
            headers.setdefault("Strict-Transport-Security", HSTS)
        if g.get("user") is not None or g.get("principal") is not None:
            headers["Cache-Control"] = "no-store"  # signed-in data stays out of shared caches
        return response
