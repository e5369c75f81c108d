"""Rate limits on django-ratelimit's counters (the shared cache), exposed as DRF throttles so a
refusal becomes DRF's `Throttled` and, through the exception handler, a 429 with Retry-After."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django_ratelimit import ALL
from django_ratelimit.core import get_usage
from rest_framework.throttling import BaseThrottle


def client_ip(request: Any) -> str:
    """The caller's address. X-Forwarded-For counts only through TRUSTED_PROXY_COUNT proxies:
    with N trusted proxies, the client is the N-th address from the right."""
    remote = request.META.get("REMOTE_ADDR", "")
    proxies = settings.TRUSTED_PROXY_COUNT
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR")
    if proxies <= 0 or not forwarded:
        return remote
    hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
    if not hops:
        return remote
    return hops[-min(proxies, len(hops))]


class _RatelimitThrottle(BaseThrottle):
    group = ""

    def rate(self, request: Any) -> str:
        raise NotImplementedError

    def key(self, request: Any) -> str:
        raise NotImplementedError

    def allow_request(self, request: Any, view: Any) -> bool:
        usage = get_usage(
            request._request,
            group=self.group,
            key=lambda _group, _request: self.key(request),
            rate=self.rate(request),
            method=ALL,
            increment=True,
        )
        if usage is None:  # cache unavailable and RATELIMIT_FAIL_OPEN: let it through
            return True
        self._wait = usage["time_left"]
        return not usage["should_limit"]

    def wait(self) -> float | None:
        return max(1, getattr(self, "_wait", 1))


class CompanyAuthThrottle(_RatelimitThrottle):
    """Company auth attempts per client address (brute-force guard)."""

    group = "company-auth"

    def rate(self, request: Any) -> str:
        return settings.RATE_LIMIT_COMPANY_AUTH

    def key(self, request: Any) -> str:
        return client_ip(request)


class CompanyCallsThrottle(_RatelimitThrottle):
    """Every authenticated call, counted per company (customer calls count for their company)."""

    group = "company-calls"

    def rate(self, request: Any) -> str:
        company = getattr(request.user, "company", None)
        if company is not None and company.rate_limit_per_minute:
            return f"{company.rate_limit_per_minute}/m"
        return settings.RATE_LIMIT_COMPANY_CALLS

    def key(self, request: Any) -> str:
        company = getattr(request.user, "company", None)
        return f"company:{company.pk}" if company is not None else client_ip(request)
