"""Authentication (bearer JWTs) and authorization (roles per namespace from token groups).

Roles are ordered: viewer < deployer < admin; a higher role can do everything a lower one can.
The decisions are plain functions of a Principal and an action, tested directly; the resolvers
only call `require`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import aiohttp
import jwt

ROLE_RANK = {"viewer": 1, "deployer": 2, "admin": 3}

# What each action needs. Feedback is open to viewers: anyone on the team who lived with a
# deployment may say whether it was a good one.
ACTION_ROLES = {
    "read": "viewer",
    "feedback": "viewer",
    "preview": "deployer",
    "write_deployment": "deployer",
    "write_cloudprovider": "admin",
}


class AuthError(Exception):
    """The request carries no valid credentials (HTTP 401)."""


class Forbidden(Exception):
    """The caller is authenticated but lacks the role (GraphQL FORBIDDEN)."""

    def __init__(self, message: str, field: list[str] | None = None) -> None:
        super().__init__(message)
        self.field = field or []


@dataclass(frozen=True)
class Principal:
    user: str
    groups: tuple[str, ...]
    # namespace -> role; "*" applies to every namespace.
    roles: Mapping[str, str] = field(default_factory=dict)

    def role_in(self, namespace: str) -> str | None:
        candidates = [r for r in (self.roles.get(namespace), self.roles.get("*")) if r]
        return max(candidates, key=ROLE_RANK.__getitem__) if candidates else None

    def namespaces(self) -> list[str]:
        return sorted(ns for ns in self.roles if ns != "*")


def roles_from_groups(groups: Iterable[str], bindings: Mapping[str, str]) -> dict[str, str]:
    """namespace -> highest role, from groups shaped "namespace:role" or mapped by `bindings`."""
    roles: dict[str, str] = {}
    for group in groups:
        binding = bindings.get(group, group)
        namespace, sep, role = binding.rpartition(":")
        if not sep or not namespace or role not in ROLE_RANK:
            continue  # a group that says nothing about SCIA (e.g. "engineering")
        if ROLE_RANK[role] > ROLE_RANK.get(roles.get(namespace, ""), 0):
            roles[namespace] = role
    return roles


def allowed(principal: Principal, action: str, namespace: str) -> bool:
    role = principal.role_in(namespace)
    return role is not None and ROLE_RANK[role] >= ROLE_RANK[ACTION_ROLES[action]]


def require(principal: Principal, action: str, namespace: str) -> None:
    if not allowed(principal, action, namespace):
        needed = ACTION_ROLES[action]
        have = principal.role_in(namespace)
        detail = f"your role there is {have}" if have else "you have no role there"
        raise Forbidden(f"{action.replace('_', ' ')} in namespace {namespace!r} needs the {needed} role; {detail}")


def bearer_token(header: str | None) -> str:
    if not header:
        raise AuthError("missing Authorization header: send 'Authorization: Bearer <token>'")
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthError("the Authorization header must be 'Bearer <token>'")
    return token.strip()


class JwksCache:
    """The issuer's signing keys, fetched over HTTP and cached; refetched for an unknown `kid`
    (key rotation) at most every 10 s so a flood of bad tokens cannot hammer the issuer."""

    def __init__(self, url: str, ttl: float) -> None:
        self.url = url
        self.ttl = ttl
        self._keys: dict[str, object] = {}
        self._fetched = 0.0
        self._lock = asyncio.Lock()

    async def key(self, kid: str | None) -> object:
        if not self._keys or time.monotonic() - self._fetched > self.ttl:
            await self._refresh(min_age=0)
        elif kid not in self._keys:
            await self._refresh(min_age=10)
        if kid is None and len(self._keys) == 1:
            return next(iter(self._keys.values()))
        if kid not in self._keys:
            raise AuthError(f"token signed with unknown key id {kid!r}")
        return self._keys[kid]

    async def _refresh(self, min_age: float) -> None:
        async with self._lock:
            # Another request may have refreshed while this one waited for the lock.
            if self._keys and time.monotonic() - self._fetched < max(min_age, 0.5):
                return
            await self._fetch()

    async def _fetch(self) -> None:
        try:
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
                async with session.get(self.url) as response:
                    response.raise_for_status()
                    document = await response.json(content_type=None)
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as error:
            if self._keys:
                return  # keep serving with the keys we have; the issuer may be restarting
            raise AuthError(f"cannot fetch the issuer keys: {error}") from None
        keys = {}
        for jwk in document.get("keys", []):
            if jwk.get("use", "sig") != "sig":
                continue
            keys[jwk.get("kid")] = jwt.PyJWK(jwk).key
        self._keys, self._fetched = keys, time.monotonic()


class TokenVerifier:
    def __init__(
        self,
        *,
        shared_key: str | None = None,
        jwks_url: str = "",
        issuer: str = "",
        audience: str = "",
        user_claim: str = "sub",
        groups_claim: str = "groups",
        bindings: Mapping[str, str] | None = None,
        jwks_cache_seconds: float = 300.0,
    ) -> None:
        self.shared_key = shared_key
        self.jwks = JwksCache(jwks_url, jwks_cache_seconds) if jwks_url else None
        self.issuer = issuer
        self.audience = audience
        self.user_claim = user_claim
        self.groups_claim = groups_claim
        self.bindings = dict(bindings or {})

    async def verify(self, token: str) -> Principal:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as error:
            raise AuthError(f"malformed token: {error}") from None
        algorithm = header.get("alg")
        # The algorithm decides the key; "none" and any unlisted algorithm are refused, so a
        # token cannot pick a weaker check than the one configured.
        if algorithm == "HS256" and self.shared_key:
            key: object = self.shared_key
        elif algorithm in ("RS256", "ES256") and self.jwks:
            key = await self.jwks.key(header.get("kid"))
        else:
            raise AuthError(f"tokens signed with {algorithm!r} are not accepted here")
        options = {"require": ["exp", self.user_claim]}
        try:
            claims = jwt.decode(
                token,
                key,  # type: ignore[arg-type]
                algorithms=[algorithm],
                audience=self.audience or None,
                issuer=self.issuer or None,
                options={**options, "verify_aud": bool(self.audience)},
                leeway=30,
            )
        except jwt.ExpiredSignatureError:
            raise AuthError("token expired") from None
        except jwt.PyJWTError as error:
            raise AuthError(f"invalid token: {error}") from None
        user = claims.get(self.user_claim)
        groups = claims.get(self.groups_claim) or []
        if not isinstance(user, str) or not user:
            raise AuthError(f"the token's {self.user_claim!r} claim must be a non-empty string")
        if not isinstance(groups, list) or not all(isinstance(g, str) for g in groups):
            raise AuthError(f"the token's {self.groups_claim!r} claim must be a list of strings")
        # The gateway impersonates these groups in the cluster: a token must never claim Kubernetes'
        # own (system:masters is cluster-admin), nor a user name of its service-account kind.
        if reserved := [g for g in groups if g.startswith("system:")]:
            raise AuthError(f"the token claims reserved Kubernetes groups {reserved}: system:* groups are refused")
        if user.startswith("system:"):
            raise AuthError(f"the token's user {user!r} is a reserved Kubernetes name (system:*)")
        return Principal(user=user, groups=tuple(groups), roles=roles_from_groups(groups, self.bindings))


def issue_token(
    shared_key: str, user: str, groups: list[str], *, ttl_seconds: int, audience: str = "scia", issuer: str = ""
) -> str:
    """An HS256 token for the local stack (`scia-gateway token`)."""
    now = int(time.time())
    claims: dict[str, object] = {"sub": user, "groups": groups, "iat": now, "exp": now + ttl_seconds}
    if audience:
        claims["aud"] = audience
    if issuer:
        claims["iss"] = issuer
    return jwt.encode(claims, shared_key, algorithm="HS256")
