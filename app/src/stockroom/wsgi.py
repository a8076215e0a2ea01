"""WSGI entry point: ``gunicorn stockroom.wsgi:app``.

A configuration error ends the process with a one-line message and exit status 3, which gunicorn
treats as "worker failed to boot" and stops instead of restarting workers in a loop.
"""

import sys

from stockroom.app import create_app
from stockroom.config import ConfigError

try:
    app = create_app()
except ConfigError as exc:
    print(f"stockroom: configuration error: {exc}", file=sys.stderr, flush=True)
    sys.exit(3)
