"""Stockroom inventory service. The app factory lives in stockroom.app (create_app)."""

__version__ = "1.0.0"
