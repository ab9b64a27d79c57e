"""Secret start params (tokens, cookies) are sealed with Fernet before they touch the database.

The key is COLLECTOR_SECRET_KEY (a Fernet key) or, unset, one derived from SERVICE_TOKEN,
so the API and the workers of one deployment share it without another setting.
"""
from __future__ import annotations

import base64
import hashlib
import json

from cryptography.fernet import Fernet, InvalidToken

from services.collector.errors import SealingUnavailable
from shared.redact import redact_url


NO_KEY_MESSAGE = "Secret params need COLLECTOR_SECRET_KEY or SERVICE_TOKEN to be configured."


def _fernet(config) -> Fernet:
    key = config.get("COLLECTOR_SECRET_KEY")
    if key:
        return Fernet(key)
    token = config.get("SERVICE_TOKEN")
    if not token:
        raise SealingUnavailable(NO_KEY_MESSAGE)
    digest = hashlib.sha256(b"collector-secrets:" + token.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def seal(config, secrets: dict) -> str | None:
    if not secrets:
        return None
    return _fernet(config).encrypt(json.dumps(secrets).encode()).decode()


def unseal(config, sealed: str | None) -> dict:
    if not sealed:
        return {}
    try:
        return json.loads(_fernet(config).decrypt(sealed.encode()))
    except InvalidToken:
        raise SealingUnavailable("The task's secret params cannot be decrypted with the configured key.") from None


def seal_callback_url(config, url: str | None) -> str | None:
    """A callback URL as stored: as given when it holds no credentials, else sealed whole (a Fernet
    token, which never starts with a scheme), like a secret start param."""
    if not url or redact_url(url) == url:
        return url
    return seal(config, {"callback_url": url})


def unseal_callback_url(config, stored: str | None) -> str | None:
    if not stored or stored.startswith(("http://", "https://")):
        return stored
    return unseal(config, stored)["callback_url"]
