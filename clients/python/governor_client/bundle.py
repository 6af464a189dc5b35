"""What a client app needs to connect to its session: the connect route's answer."""

from __future__ import annotations

import json
from dataclasses import dataclass, field


@dataclass(frozen=True)
class ConnectBundle:
    """The connect route's answer. `session_configuration` maps one to one onto ARR's
    `SessionConfiguration` (AccountId, AccountDomain, RemoteRenderingDomain, AccessToken).

    The token stays out of repr(), so logging the bundle never leaks it; `to_json()` includes it.
    """

    session_id: str
    account_id: str
    account_domain: str
    remote_rendering_domain: str
    hostname: str | None
    handshake_port: int | None
    arr_inspector_port: int | None
    connect_auth: str | None
    can_start_sessions: bool | None
    access_token: str | None = field(default=None, repr=False)
    access_token_expires_on: str | None = None
    session_configuration: dict = field(default_factory=dict, repr=False)

    @classmethod
    def from_answer(cls, answer: dict) -> ConnectBundle:
        return cls(
            session_id=answer["sessionId"],
            account_id=answer["accountId"],
            account_domain=answer["accountDomain"],
            remote_rendering_domain=answer["remoteRenderingDomain"],
            hostname=answer.get("hostname"),
            handshake_port=answer.get("handshakePort"),
            arr_inspector_port=answer.get("arrInspectorPort"),
            connect_auth=answer.get("connectAuth"),
            can_start_sessions=answer.get("canStartSessions"),
            access_token=answer.get("accessToken"),
            access_token_expires_on=answer.get("accessTokenExpiresOn"),
            session_configuration=dict(answer.get("sessionConfiguration") or {}),
        )

    @property
    def has_token(self) -> bool:
        return bool(self.access_token)

    def to_answer(self) -> dict:
        """The bundle as the gate answered it (its camelCase names), token included."""
        answer = {
            "sessionId": self.session_id,
            "accountId": self.account_id,
            "accountDomain": self.account_domain,
            "remoteRenderingDomain": self.remote_rendering_domain,
            "hostname": self.hostname,
            "handshakePort": self.handshake_port,
            "arrInspectorPort": self.arr_inspector_port,
            "connectAuth": self.connect_auth,
            "canStartSessions": self.can_start_sessions,
        }
        if self.access_token is not None:
            answer.update(accessToken=self.access_token, accessTokenExpiresOn=self.access_token_expires_on)
        return {**answer, "sessionConfiguration": dict(self.session_configuration)}

    def to_json(self) -> str:
        """The bundle with its token, for the user's own terminal or app; never for a log."""
        return json.dumps(self.to_answer(), indent=2)
