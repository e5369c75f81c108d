"""The HTTP client for external voucher vendors.

Protocol (rewards/vendor_simulator.py speaks it too):

    POST {base_url}/vouchers
    Authorization: Bearer <the vendor's API key>        (when one is configured)
    Idempotency-Key: <our voucher's id>
    {"reference": "<our voucher's id>", "product_code": "...", "denomination": "10"}
    → 200 {"voucher": "CODE", "valid_till": "2027-01-31", "pin": "1234"}

Success is HTTP 200 with a non-empty string `voucher`. Everything else raises VendorError, marked
transient (timeouts, connection errors, 5xx, 429: worth retrying, the idempotency key makes a
retry safe) or permanent (any other status, or a 200 without a usable voucher).

Nothing here logs the API key, the request headers or the voucher code: the key is a credential
and a code is bearer value. Error reasons name the status and the kind of failure only.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from decimal import Decimal

import httpx
from django.conf import settings

from rewards import vendor_secrets
from rewards.models import Vendor

# The column sizes on Voucher: a longer code or PIN cannot be stored, so it is a failure.
CODE_MAX_LENGTH = 100
PIN_MAX_LENGTH = 100
# A voucher answer is a few hundred bytes; more than this is not an answer we can use.
RESPONSE_MAX_BYTES = 64 * 1024


class VendorError(Exception):
    """The vendor call did not produce a voucher. `reason` is safe to store and to log."""

    def __init__(self, reason: str, *, transient: bool, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.transient = transient
        self.retry_after = retry_after


@dataclass(frozen=True)
class VendorVoucher:
    code: str
    valid_till: dt.date | None
    pin: str

    def __repr__(self) -> str:  # never the code or the PIN, should this reach a log
        return f"VendorVoucher(valid_till={self.valid_till!r})"


def vendor_timeout(*, vendor: Vendor) -> float:
    """The vendor's timeout, capped by VENDOR_CALL_TIMEOUT_MAX so that a call always ends well
    inside the fulfilment task's soft time limit."""
    return min(float(vendor.timeout_seconds), float(settings.VENDOR_CALL_TIMEOUT_MAX))


def vendor_voucher_request(
    *, vendor: Vendor, reference: str, product_code: str, denomination: Decimal
) -> VendorVoucher:
    """Ask `vendor` for one voucher of `product_code`. `reference` is sent as the idempotency key:
    asking again with the same reference returns the same voucher, never a second one."""
    timeout = vendor_timeout(vendor=vendor)
    headers = {
        "Accept": "application/json",
        "Idempotency-Key": reference,
        "User-Agent": "rewards-platform/1",
    }
    api_key = vendor_secrets.decrypt(vendor.api_key_encrypted)
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    body = {"reference": reference, "product_code": product_code, "denomination": str(denomination)}
    url = vendor.base_url.rstrip("/") + "/vouchers"
    try:
        # Every phase (connect, write, each read, pool wait) is bounded by `timeout`. Redirects
        # are not followed: a vendor that moves must be reconfigured, not guessed at.
        with (
            httpx.Client(timeout=httpx.Timeout(timeout), follow_redirects=False) as client,
            client.stream("POST", url, json=body, headers=headers) as response,
        ):
            status = response.status_code
            retry_after = _retry_after(response.headers.get("Retry-After"))
            raw = _read_capped(response) if status == 200 else b""
    except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
        raise VendorError("vendor base URL is invalid", transient=False) from exc
    except httpx.TimeoutException as exc:
        raise VendorError(f"vendor timed out after {timeout:g}s", transient=True) from exc
    except httpx.TransportError as exc:
        raise VendorError(
            f"vendor connection failed ({type(exc).__name__})", transient=True
        ) from exc

    if status == 429 or status >= 500:
        raise VendorError(f"vendor answered HTTP {status}", transient=True, retry_after=retry_after)
    if status != 200:
        raise VendorError(f"vendor refused: HTTP {status}", transient=False)
    return _voucher_from(raw)


def _read_capped(response: httpx.Response) -> bytes:
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > RESPONSE_MAX_BYTES:
            raise VendorError("vendor answer too large", transient=False)
        chunks.append(chunk)
    return b"".join(chunks)


def _voucher_from(raw: bytes) -> VendorVoucher:
    try:
        data = json.loads(raw)
    except ValueError:
        raise VendorError("vendor answered 200 without JSON", transient=False) from None
    if not isinstance(data, dict):
        raise VendorError("vendor answered 200 without a JSON object", transient=False)
    code = data.get("voucher")
    if not isinstance(code, str) or not code.strip():
        raise VendorError("vendor answered 200 without a voucher", transient=False)
    code = code.strip()
    if len(code) > CODE_MAX_LENGTH:
        raise VendorError(
            f"vendor voucher code longer than {CODE_MAX_LENGTH} characters", transient=False
        )
    pin = data.get("pin")
    pin = "" if pin is None else str(pin).strip()
    if len(pin) > PIN_MAX_LENGTH:
        raise VendorError(f"vendor PIN longer than {PIN_MAX_LENGTH} characters", transient=False)
    return VendorVoucher(code=code, valid_till=_date_or_none(data.get("valid_till")), pin=pin)


def _date_or_none(value: object) -> dt.date | None:
    """An ISO date (or date-time, whose date part is taken). Anything else is None: the code is
    real and paid for, so an unreadable expiry must not throw it away (the reward's own validity
    applies then)."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    try:
        return dt.date.fromisoformat(text[:10])
    except ValueError:
        return None


def _retry_after(value: str | None) -> float | None:
    """Retry-After in seconds (the HTTP-date form is rare from APIs and ignored)."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if seconds >= 0 else None
