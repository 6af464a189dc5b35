"""A thin test client of the emulator over real HTTP (requests), with the token exchange."""

from __future__ import annotations

import requests

V2 = "api-version=2021-01-01"


class Arr:
    def __init__(self, url: str, account_id: str, account_key: str, verify=True):
        self.url = url
        self.account_id = account_id
        self.account_key = account_key
        self.http = requests.Session()
        self.http.verify = verify
        self._token: str | None = None

    def token(self) -> str:
        if self._token is None:
            response = self.http.get(
                f"{self.url}/accounts/{self.account_id}/token",
                headers={"Authorization": f"Bearer {self.account_id}:{self.account_key}"},
                timeout=10,
            )
            response.raise_for_status()
            self._token = response.json()["AccessToken"]
        return self._token

    def call(self, method: str, path: str, data=None, json=None, headers=None, auth=True) -> requests.Response:
        all_headers = {"Authorization": f"Bearer {self.token()}"} if auth else {}
        all_headers.update(headers or {})
        return self.http.request(method, self.url + path, data=data, json=json, headers=all_headers, timeout=30)

    # 2021-01-01
    def session_path(self, sid: str = "", suffix: str = "") -> str:
        base = f"/accounts/{self.account_id}/sessions"
        return f"{base}/{sid}{suffix}?{V2}" if sid else f"{base}?{V2}"

    def put(self, sid: str, minutes=15, size="Standard") -> requests.Response:
        return self.call("PUT", self.session_path(sid), json={"maxLeaseTimeMinutes": minutes, "size": size})

    def get(self, sid: str) -> requests.Response:
        return self.call("GET", self.session_path(sid))

    def patch(self, sid: str, minutes) -> requests.Response:
        return self.call("PATCH", self.session_path(sid), json={"maxLeaseTimeMinutes": minutes})

    def stop(self, sid: str) -> requests.Response:
        return self.call("POST", self.session_path(sid, "/:stop"))

    def list_all(self) -> list[dict]:
        sessions, url = [], self.url + self.session_path()
        while url:
            response = self.http.get(url, headers={"Authorization": f"Bearer {self.token()}"}, timeout=30)
            response.raise_for_status()
            body = response.json()
            sessions.extend(body["sessions"])
            url = body.get("@nextLink")
        return sessions
