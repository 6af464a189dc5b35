"""The token service: GET /accounts/{accountId}/token (any case, any query string)."""

from __future__ import annotations

from governor.emulator.app import Emulator
from governor.emulator.messages import Request, Response

NO_CACHE = {"Cache-Control": "no-store, no-cache", "Pragma": "no-cache"}


def get_token(emu: Emulator, req: Request) -> Response:
    token = emu.issue_token(req.params["account"].lower(), req.header("Authorization"), req.base_url)
    return Response.json(200, {"AccessToken": token}, dict(NO_CACHE))


ROUTES = [("/accounts/{account}/token", "sts", {"GET": get_token})]
