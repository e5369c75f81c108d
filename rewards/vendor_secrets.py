"""Vendor API keys are encrypted at rest (Fernet: AES-128-CBC + HMAC-SHA256). The key comes
from VENDOR_SECRETS_KEY, or is derived from DJANGO_SECRET_KEY when that is not set."""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings


def _fernet() -> Fernet:
    configured = getattr(settings, "VENDOR_SECRETS_KEY", "")
    if configured:
        return Fernet(configured)
    digest = hashlib.sha256(("vendor-secrets:" + settings.SECRET_KEY).encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def encrypt(plain: str) -> str:
    return _fernet().encrypt(plain.encode()).decode() if plain else ""


def decrypt(token: str) -> str:
    if not token:
        return ""
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise RuntimeError(
            "The vendor API key cannot be decrypted: VENDOR_SECRETS_KEY changed?"
        ) from exc
