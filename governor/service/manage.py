"""The operators' use cases: project documents and caller keys."""

from __future__ import annotations

from governor.policy import gate as rules
from governor.service.ports import Refusal, StorePort


class ManageService:
    """Admin operations on project documents and keys. The platform's admin key guards the routes."""

    def __init__(self, store: StorePort):
        self.store = store

    def put(self, name: str, document) -> tuple[dict, bool]:
        from governor.policy import document as documents

        rules.check_project_name(name)
        try:
            spec = documents.policy_from_document(document, name)
        except documents.PolicyError as exc:
            raise Refusal("bad-request", str(exc)[:300], {"field": exc.field or "body"}) from None
        created = self.store.get_project(name) is None
        self.store.put_project(spec.policy, webhook_secret=spec.webhook_secret)
        return documents.policy_to_document(spec.policy), created

    def get(self, name: str) -> dict:
        from governor.policy import document as documents

        rules.check_project_name(name)
        policy = self.store.get_project(name)
        if policy is None:
            raise Refusal("unknown-project", f"no project named {name!r}")
        return documents.policy_to_document(policy)

    def list(self) -> dict:
        from governor.policy import document as documents

        return {"projects": [documents.policy_to_document(p) for p in self.store.list_projects()]}

    def delete(self, name: str) -> None:
        rules.check_project_name(name)
        if not self.store.delete_project(name):
            raise Refusal("unknown-project", f"no project named {name!r}")

    def rotate_key(self, name: str) -> dict:
        rules.check_project_name(name)
        if self.store.get_project(name) is None:
            raise Refusal("unknown-project", f"no project named {name!r}")
        return {"project": name, "key": self.store.rotate_key(name)}
