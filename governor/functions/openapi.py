"""GET /api/openapi.json. The document lives in `openapi_doc`, imported on the first request so
that `import function_app` does not build schemas from the whole core at every cold start."""

from __future__ import annotations

import functools

import azure.functions as func

from governor import __version__
from governor.functions import build_app, http

bp = func.Blueprint()


@functools.cache
def _document() -> dict:
    """Built once per process: it depends only on the registered functions and the version."""
    from governor.functions.openapi_doc import document, registered_functions  # lazy: cold start (loads governor.core)

    return document(registered_functions(build_app()), __version__)


@bp.route(route="openapi.json", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def openapi(req: func.HttpRequest) -> func.HttpResponse:
    return http.serve(req, lambda: http.respond(_document()))
