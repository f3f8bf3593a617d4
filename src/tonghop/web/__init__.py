"""The secretary's desk: a local web page over the same Workspace operations as the commands.

:mod:`.app` builds the Flask application (``create_app``) with its security (session, CSRF,
password, Content-Security-Policy, Vietnamese error pages); the views are split by idea:
:mod:`.pages` (periods, a period, a branch, a return), :mod:`.actions` (decisions, finalize,
rebuild, forms), :mod:`.upload` (returns dropped on the page), :mod:`.downloads` (files the
workspace lists). :mod:`.server` runs it on waitress; :mod:`.commands` holds ``tonghop serve``
and ``tonghop web-password``. The core never imports this package; nothing here imports
Flask until an application is made.
"""

from __future__ import annotations

from tonghop._lazy import lazy_names

_PUBLIC = {
    "create_app": "tonghop.web.app",
    "Desk": "tonghop.web.app",
    "serve": "tonghop.web.server",
}
__all__ = sorted(_PUBLIC)
__getattr__ = lazy_names(__name__, _PUBLIC)
