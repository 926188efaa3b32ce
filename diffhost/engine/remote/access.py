"""Who may use a remote engine: the bind rule and the shared token (no Ray, no torch).

The default bind, 127.0.0.1 (or ::1 / localhost), is this machine only and needs no token. Any
other address, even another loopback one, may be reachable from elsewhere (a container's port
mapping, a forwarded port), so it needs a token that every client sends as
`Authorization: Bearer TOKEN`.
"""

from __future__ import annotations

import hmac
from pathlib import Path

from diffhost import paths

TOKEN_ENV = paths.ENGINE_TOKEN_ENV
LOCAL_BINDS = frozenset({"127.0.0.1", "::1", "localhost"})
MIN_TOKEN_CHARS = 16
DEFAULT_PORT = 8450


def is_local_bind(host: str) -> bool:
    return host.strip("[]") in LOCAL_BINDS


def read_token(token_file: Path | None = None, env: dict[str, str] | None = None) -> str | None:
    """The token from a file (first line) or DIFFHOST_ENGINE_TOKEN; None when neither is set.
    A file beats the command line: a token typed as an argument shows in every `ps` listing."""
    if token_file is not None:
        try:
            text = Path(token_file).expanduser().read_text(encoding="utf-8")
        except OSError as exc:
            raise ValueError(f"token file {token_file}: {exc.strerror or exc}") from None
        token = text.strip().splitlines()[0].strip() if text.strip() else ""
        if not token:
            raise ValueError(f"token file {token_file} is empty")
        return token
    return paths.engine_token(env)


def check_bind(host: str, token: str | None) -> None:
    """Refuse a bind beyond this machine without a strong enough token (before anything starts)."""
    if token is not None and len(token) < MIN_TOKEN_CHARS:
        raise ValueError(
            f"token: {len(token)} characters is too short; use at least {MIN_TOKEN_CHARS} "
            "(e.g. python -c 'import secrets; print(secrets.token_urlsafe(32))')"
        )
    if not is_local_bind(host) and token is None:
        raise ValueError(
            f"host: binding {host} may expose the engine beyond this machine, so it needs a token: "
            f"set {TOKEN_ENV} or pass --token-file FILE (clients set the same {TOKEN_ENV}); "
            "or keep the default 127.0.0.1 and reach it through an SSH tunnel (docs/remote.md)"
        )


def token_ok(expected: str | None, authorization: str | None) -> bool:
    """Constant-time check of an `Authorization: Bearer TOKEN` header against the server's token."""
    if expected is None:
        return True
    scheme, _, given = (authorization or "").partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(given.strip().encode(), expected.encode())
