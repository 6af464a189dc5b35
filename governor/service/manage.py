"""The operators' use cases: project documents and caller keys."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from governor.core.model import CallerKey, ProjectPolicy, utcnow
from governor.core.policy import callers
from governor.core.policy import document as documents
from governor.core.policy import gate as rules
from governor.service.gate.views import key_view
from governor.service.ports import ProjectsPort, Refusal


@dataclass(frozen=True)
class Applied:
    """What `apply` did (or, in a dry run, would do) to one project: create, update, unchanged,
    delete, or keep (not in the file, kept without `prune`); `key`: a created project's caller key."""

    action: str
    name: str
    key: str | None = field(default=None, repr=False)


class ManageService:
    """Admin operations on project documents and keys. The platform's admin key guards the routes."""

    def __init__(
        self,
        store: ProjectsPort,
        clock: Callable[[], datetime] = utcnow,
        loopback_webhooks: bool = False,
        accounts: Collection[str] | None = None,
    ):
        self.store = store
        self.clock = clock
        self.loopback_webhooks = loopback_webhooks  # local development: http://127.0.0.1 webhooks
        self.accounts = accounts  # the ARR accounts the app has; None: not known here, not checked

    def put(self, name: str, document) -> tuple[dict, bool]:
        rules.check_project_name(name)
        try:
            spec = documents.policy_from_document(document, name, allow_loopback_http=self.loopback_webhooks)
            created = self.put_spec(spec)
        except documents.PolicyError as exc:
            raise Refusal("bad-request", str(exc)[:300], {"field": exc.field or "body"}) from None
        return documents.policy_to_document(spec.policy), created

    def put_spec(self, spec: documents.ProjectSpec) -> bool:
        """Write a validated project document (the manage route's, `projects set`'s); True when it
        is new. A PolicyError, before anything is written, when it names an ARR account the app
        does not have."""
        self._check_accounts(spec)
        created = self.store.get_project(spec.policy.name) is None
        self.store.put_project(spec.policy, webhook_secret=spec.webhook_secret)
        return created

    def _check_accounts(self, spec: documents.ProjectSpec, path: tuple = ()) -> None:
        """The one place a project about to be written has its ARR accounts checked, whoever
        writes it (the manage routes, `projects set` and `apply`)."""
        if self.accounts is not None:
            documents.check_accounts(spec.policy, self.accounts, path, spec.line if path else None)

    def apply(
        self, specs: Sequence[documents.ProjectSpec], prune: bool = False, dry_run: bool = False
    ) -> list[Applied]:
        """Make the projects match a projects file (idempotent): create and update what it lists, and
        with `prune` delete the others. A created project gets its first caller key (in the answer,
        once); a dry run writes nothing. Every project's ARR accounts are checked first, so a file
        naming one the app does not have writes nothing (a PolicyError naming `projects[i]`)."""
        for index, spec in enumerate(specs):
            self._check_accounts(spec, ("projects", index))
        current = {policy.name: policy for policy in self.store.list_projects()}
        plan = []
        for spec in specs:
            name = spec.policy.name
            if name not in current:
                plan.append(Applied("create", name))
            elif current[name] != spec.policy or spec.webhook_secret is not None:
                plan.append(Applied("update", name))
            else:
                plan.append(Applied("unchanged", name))
        stale = sorted(set(current) - {spec.policy.name for spec in specs})
        plan += [Applied("delete" if prune else "keep", name) for name in stale]
        if dry_run:
            return plan
        done = []
        for spec, step in zip(specs, plan, strict=False):
            if step.action == "unchanged":
                done.append(step)
                continue
            self.store.put_project(spec.policy, spec.webhook_secret)
            key = self.rotate_key(step.name)["key"] if step.action == "create" else None
            done.append(Applied(step.action, step.name, key))
        for step in plan[len(specs) :]:
            if step.action == "delete":
                self.store.delete_project(step.name)
            done.append(step)
        return done

    def get(self, name: str) -> dict:
        rules.check_project_name(name)
        policy = self.store.get_project(name)
        if policy is None:
            raise Refusal("unknown-project", f"no project named {name!r}")
        return documents.policy_to_document(policy)

    def list(self) -> dict:
        return {"projects": [documents.policy_to_document(p) for p in self.store.list_projects()]}

    def delete(self, name: str) -> None:
        rules.check_project_name(name)
        if not self.store.delete_project(name):
            raise Refusal("unknown-project", f"no project named {name!r}")

    # ------------------------------------------------------------ caller keys
    def _project(self, name: str) -> ProjectPolicy:
        rules.check_project_name(name)
        policy = self.store.get_project(name)
        if policy is None:
            raise Refusal("unknown-project", f"no project named {name!r}")
        return policy

    def rotate_key(self, name: str) -> dict:
        """The old all-keys rotation: revoke every key and add one named "default"."""
        self._project(name)
        return {"project": name, "name": callers.DEFAULT_KEY, "key": self.store.rotate_key(name, self.clock())}

    def list_keys(self, name: str) -> dict:
        self._project(name)
        return {"project": name, "keys": [_listed(k) for k in self.store.list_keys(name)]}

    def post_keys(self, name: str, body) -> dict:
        """`POST .../keys`: add a named key, or with `"revokeOthers": true` replace every key by one."""
        policy, now = self._project(name), self.clock()
        new = callers.parse_keys_post(body, policy, now)
        if new.revoke_others:
            key = self.store.rotate_key(name, now, new.name, new.expires_at, new.limits, new.scope)
            return self._answer(name, new.name, key)
        return self._add(name, new, now)

    def add_key(self, name: str, body) -> dict:
        """Add a named key (validated before anything is written); the key is in the answer, once."""
        policy, now = self._project(name), self.clock()
        return self._add(name, callers.parse_new_key(body, policy, now), now)

    def _add(self, name: str, new: callers.NewKey, now: datetime) -> dict:
        if any(k.name == new.name for k in self.store.list_keys(name)):
            raise Refusal("conflict", f"the project already has a key named {new.name!r}", {"field": "name"})
        key = self.store.add_key(name, new.name, now, new.expires_at, new.limits, new.scope)  # racing twin: 409
        return self._answer(name, new.name, key)

    def _answer(self, name: str, key_name: str, key: str) -> dict:
        view = next(k for k in self.list_keys(name)["keys"] if k["name"] == key_name)
        return {"project": name, **view, "key": key}

    def revoke_key(self, name: str, key_name: str) -> None:
        self._project(name)
        if not self.store.revoke_key(name, callers.check_key_name(key_name)):
            raise Refusal("not-found", f"the project has no key named {key_name!r}")

    def rotate_named_key(self, name: str, key_name: str) -> dict:
        self._project(name)
        callers.check_key_name(key_name)
        if not any(k.name == key_name for k in self.store.list_keys(name)):
            raise Refusal("not-found", f"the project has no key named {key_name!r}")
        key = self.store.rotate_named_key(name, key_name, self.clock())  # revoked meanwhile: 404 too
        return {"project": name, "name": key_name, "key": key}


def _listed(key: CallerKey) -> dict:
    """A key as listed and answered: its view (never a secret or hash) and its scope."""
    return {**key_view(key), "scope": key.scope}
