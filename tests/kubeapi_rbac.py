"""Authentication and RBAC for the API server double, read from the manifests in `deploy/`.

kube-apiserver answers 401 when a request carries no credentials it accepts and 403 when the
authenticated user is not granted the verb on the resource. This module decides both the way the
RBAC authorizer does, from ServiceAccount, (Cluster)Role and (Cluster)RoleBinding objects:

- a bearer token authenticates as `system:serviceaccount:<ns>:<name>`, with the groups
  `system:serviceaccounts`, `system:serviceaccounts:<ns>` and `system:authenticated`;
- a ClusterRoleBinding grants its ClusterRole everywhere; a RoleBinding grants its Role (or a
  ClusterRole) in its own namespace only;
- a rule matches on apiGroups, resources, verbs (`*` allowed) and, when it has resourceNames,
  only requests that name one of them. A list or watch names an object only through a field
  selector that pins `metadata.name` (kube-apiserver's RequestInfo takes the name from there),
  so `resourceNames` allows list/watch of exactly those objects and nothing else.

`deploy_rbac()` loads the shipped manifests as `kubectl apply -n NAMESPACE -f` would: objects
without a namespace get NAMESPACE.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

Obj = dict[str, Any]

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"
# What the shipped manifests grant, and how: rbac.yaml is cluster-wide and names its own
# namespaces; bgp-secrets-rbac.yaml is applied with `-n <the namespace BGP Secrets live in>`.
CLUSTER_MANIFEST = DEPLOY / "rbac.yaml"
SECRETS_MANIFEST = DEPLOY / "bgp-secrets-rbac.yaml"
NAMESPACED_KINDS = ("ServiceAccount", "Role", "RoleBinding")


def load_manifest(path: Path, namespace: str | None = None) -> list[Obj]:
    """The objects of one YAML file, namespaced ones defaulted to `namespace` (`kubectl -n`)."""
    objects = [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
    for obj in objects:
        meta = obj.setdefault("metadata", {})
        if obj.get("kind") in NAMESPACED_KINDS and "namespace" not in meta:
            if namespace is None:
                raise ValueError(f"{path.name}: {obj['kind']}/{meta.get('name')} needs -n")
            meta["namespace"] = namespace
        elif namespace is not None and meta.get("namespace") not in (None, namespace):
            # kubectl refuses this too: "the namespace from the provided object does not match".
            raise ValueError(f"{path.name}: {obj['kind']}/{meta.get('name')} is not in {namespace}")
    return objects


def deploy_rbac(
    secrets_namespace: str = "kube-system", secret_names: Iterable[str] | None = None
) -> list[Obj]:
    """The shipped RBAC as an operator applies it: `rbac.yaml`, then the Secrets Role with
    `-n secrets_namespace`. `secret_names` replaces the Role's resourceNames, as an operator
    edits the file to list their BGP password Secrets."""
    objects = load_manifest(CLUSTER_MANIFEST) + load_manifest(SECRETS_MANIFEST, secrets_namespace)
    if secret_names is not None:
        for obj in objects:
            if obj["kind"] == "Role":
                for rule in obj["rules"]:
                    if "secrets" in rule.get("resources", ()):
                        rule["resourceNames"] = list(secret_names)
    return objects


@dataclass(frozen=True)
class User:
    name: str
    groups: tuple[str, ...]


@dataclass(frozen=True)
class Attributes:
    """What a request asks, as the authorizer sees it."""

    verb: str  # get, list, watch
    group: str
    resource: str  # plural
    namespace: str  # "" for cluster-scoped or all-namespaces requests
    name: str  # "" unless the path or a metadata.name field selector names one object


class Rbac:
    """Tokens and grants from a list of RBAC manifests' objects."""

    def __init__(self, objects: Iterable[Obj]) -> None:
        self.objects = [obj for obj in objects if obj]
        self._tokens: dict[str, User] = {}
        for obj in self.objects:
            if obj.get("kind") == "ServiceAccount":
                meta = obj["metadata"]
                self.token_for(meta["namespace"], meta["name"])

    def token_for(self, namespace: str, name: str) -> str:
        """The bearer token of a ServiceAccount (made up on first use, as a token Secret would
        be), so tests can also speak as an account the manifests do not bind."""
        user = _service_account_user(namespace, name)
        for token, known in self._tokens.items():
            if known == user:
                return token
        token = secrets.token_urlsafe(24)
        self._tokens[token] = user
        return token

    def authenticate(self, authorization: str | None) -> User | None:
        if not authorization or not authorization.startswith("Bearer "):
            return None
        return self._tokens.get(authorization.removeprefix("Bearer ").strip())

    def allowed(self, user: User, attrs: Attributes) -> bool:
        for binding in self.objects:
            kind = binding.get("kind")
            if kind not in ("ClusterRoleBinding", "RoleBinding"):
                continue
            if not any(_subject_matches(s, user) for s in binding.get("subjects") or ()):
                continue
            if kind == "RoleBinding" and binding["metadata"]["namespace"] != attrs.namespace:
                continue  # a RoleBinding grants in its namespace only, never cluster-wide
            role = self._role(binding)
            if role is not None and any(_rule_matches(r, attrs) for r in role.get("rules") or ()):
                return True
        return False

    def _role(self, binding: Obj) -> Obj | None:
        ref = binding["roleRef"]
        for obj in self.objects:
            if obj.get("kind") != ref["kind"] or obj["metadata"]["name"] != ref["name"]:
                continue
            if ref["kind"] == "Role" and obj["metadata"].get("namespace") != binding[
                "metadata"
            ].get("namespace"):
                continue
            return obj
        return None


def forbidden_message(user: User, attrs: Attributes) -> str:
    """kube-apiserver's wording, e.g. `secrets "bgp" is forbidden: User "…" cannot get …`."""
    what = f"{attrs.resource}.{attrs.group}" if attrs.group else attrs.resource
    if attrs.name:
        what += f' "{attrs.name}"'
    scope = f'in the namespace "{attrs.namespace}"' if attrs.namespace else "at the cluster scope"
    return (
        f'{what} is forbidden: User "{user.name}" cannot {attrs.verb} resource '
        f'"{attrs.resource}" in API group "{attrs.group}" {scope}'
    )


def _service_account_user(namespace: str, name: str) -> User:
    return User(
        f"system:serviceaccount:{namespace}:{name}",
        ("system:serviceaccounts", f"system:serviceaccounts:{namespace}", "system:authenticated"),
    )


def _subject_matches(subject: Obj, user: User) -> bool:
    kind = subject.get("kind")
    if kind == "ServiceAccount":
        expected = f"system:serviceaccount:{subject.get('namespace')}:{subject.get('name')}"
        return user.name == expected
    if kind == "User":
        return user.name == subject.get("name")
    if kind == "Group":
        return subject.get("name") in user.groups
    return False


def _rule_matches(rule: Obj, attrs: Attributes) -> bool:
    def has(key: str, value: str) -> bool:
        values = rule.get(key) or ()
        return "*" in values or value in values

    if not (has("apiGroups", attrs.group) and has("resources", attrs.resource)):
        return False
    if not has("verbs", attrs.verb):
        return False
    names = rule.get("resourceNames") or ()
    return not names or attrs.name in names
