"""GET /api/openapi.json. The document lives in `openapi_doc`, imported on the first request so
that `import function_app` does not build schemas from the whole core at every cold start."""

from __future__ import annotations

import azure.functions as func

from governor.functions import http

bp = func.Blueprint()


@bp.route(route="openapi.json", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def openapi(req: func.HttpRequest) -> func.HttpResponse:
    def action():
        from governor import __version__
        from governor.functions import build_app
        from governor.functions.openapi_doc import document, registered_functions

        return http.respond(document(registered_functions(build_app()), __version__))

    return http.serve(req, action)
