"""Benchmark of the Partner API under gunicorn on PostgreSQL, driven by wrk.

    make bench                    # starts throwaway PostgreSQL + Redis, then this script
    BENCH_SECONDS=20 BENCH_CONCURRENCY=1,16,64 make bench

It migrates the database named by DATABASE_URL, creates a company with 100 rewards (unlimited
stock, so redemptions never run out) and a customer, starts gunicorn with production-like
settings, and measures three calls at each concurrency level:

* GET /v1/company                      trivial authenticated call (auth + rate limit + one query)
* GET /v1/bigcity/rewards              100 rewards with their SKUs
* POST /v1/bigcity/redeemptiononskus   one order, 2 vouchers, points (writes, locks), spread
                                       over BENCH_CUSTOMERS customers (each order locks its
                                       customer's row)

and prints requests per second, p50 and p99 for each, and each call's cost over the trivial one.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
SECONDS = int(os.environ.get("BENCH_SECONDS", "10"))
LEVELS = [int(x) for x in os.environ.get("BENCH_CONCURRENCY", "1,8,32").split(",")]
CUSTOMERS = int(os.environ.get("BENCH_CUSTOMERS", "200"))
WORKERS = int(os.environ.get("BENCH_WORKERS", str(2 * (os.cpu_count() or 1) + 1)))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def django_env() -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "DJANGO_SECRET_KEY": "bench-" + "k" * 50,
        "JWT_SIGNING_KEY": "bench-" + "j" * 50,
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DJANGO_SECURE_SSL_REDIRECT": "false",
        "RATE_LIMIT_COMPANY_CALLS": "100000000/m",
        "DB_CONN_MAX_AGE": "60",
        "LOG_LEVEL": "WARNING",
    }


def setup_data() -> dict[str, str]:
    """Create the bench company, catalog and customer; returns the tokens."""
    os.environ.update(django_env())
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    call_command("collectstatic", "--noinput", verbosity=0)
    from companies.models import Company
    from companies.services import company_create, company_secret_issue
    from config.api.auth import company_token_for, customer_token_for
    from customers.services import customer_upsert_for_auth
    from rewards.models import Brand, Reward, Sku

    company = Company.objects.filter(client_id="bench").first()
    if company is None:
        company, _ = company_create(
            name="Bench", client_id="bench", points_earn_rate=Decimal("0.1")
        )
        brand = Brand.objects.create(company=company, name="BENCH")
        for n in range(100):
            reward = Reward.objects.create(
                company=company,
                brand=brand,
                key=f"bench-{n}",
                name=f"Reward {n}",
                denomination_value=Decimal(10 + n),
                qty=None,
                validity_days=365,
            )
            Sku.objects.create(
                company=company,
                reward=reward,
                code=f"BENCH SKU {n}",
                product_name=f"BENCH SKU {n}",
                pack_size="500",
            )
    secret, _ = company_secret_issue(company=company, label="bench")
    # Many customers: each order locks its customer's row, so one shared customer would measure
    # that lock queue rather than the endpoint.
    customers = [
        customer_upsert_for_auth(company=company, name=f"Bench {n}", mobile=f"90000{n:05d}")[0]
        for n in range(CUSTOMERS)
    ]
    return {
        "company": str(company_token_for(secret)),
        "customers": [str(customer_token_for(c, secret_id=secret.pk)) for c in customers],
    }


def wait_until_up(url: str, timeout: float = 30) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except Exception:
            time.sleep(0.3)
    raise SystemExit(f"gunicorn did not answer on {url}")


LUA_GET = """
wrk.method = "GET"
wrk.headers["Authorization"] = "Bearer {token}"
"""

LUA_POST = """
tokens = {{{tokens}}}
body = '{body}'
counter = 0
request = function()
  counter = counter + 1
  local headers = {{}}
  headers["Authorization"] = "Bearer " .. tokens[(counter % #tokens) + 1]
  headers["Content-Type"] = "application/json"
  return wrk.format("POST", nil, headers, body)
end
"""


def run_wrk(url: str, lua: str, connections: int) -> dict[str, float]:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(lua)
        script = f.name
    threads = max(1, min(connections, 2))
    out = subprocess.run(
        [
            "wrk",
            f"-t{threads}",
            f"-c{connections}",
            f"-d{SECONDS}s",
            "--latency",
            "-s",
            script,
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    os.unlink(script)
    text = out.stdout

    def latency(pct: str) -> float:
        m = re.search(rf"^\s+{pct}%\s+([\d.]+)(us|ms|s)\s*$", text, re.M)
        if not m:
            return float("nan")
        value, unit = float(m.group(1)), m.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    return {
        "rps": rps,
        "p50": latency("50"),
        "p99": latency("99"),
        "errors": int(non2xx.group(1)) if non2xx else 0,
    }


def main() -> None:
    if not shutil.which("wrk"):
        raise SystemExit("wrk not found: apt-get install wrk")
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        raise SystemExit("DATABASE_URL must point at PostgreSQL (make bench starts one)")
    tokens = setup_data()
    port = free_port()
    env = django_env()
    gunicorn = subprocess.Popen(
        [
            str(Path(PY).parent / "gunicorn"),
            "config.wsgi",
            "-b",
            f"127.0.0.1:{port}",
            "-w",
            str(WORKERS),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(f"{base}/healthz")
        body = json.dumps(
            {
                "order_timestamp": "2025-10-13T15:42:36-04:00",
                "order_total": 1500,
                "order_items": 2,
                "line_items": [
                    {"sku": "BENCH SKU 1", "quantity": 1, "price": 1000},
                    {"sku": "BENCH SKU 2", "quantity": 1, "price": 500},
                ],
            }
        )
        calls = [
            (
                "GET /v1/company (trivial)",
                f"{base}/v1/company",
                LUA_GET.format(token=tokens["company"]),
            ),
            (
                "GET /v1/bigcity/rewards (100)",
                f"{base}/v1/bigcity/rewards",
                LUA_GET.format(token=tokens["company"]),
            ),
            (
                "POST redeemptiononskus (2 vouchers)",
                f"{base}/v1/bigcity/redeemptiononskus",
                LUA_POST.format(tokens=",".join(f'"{t}"' for t in tokens["customers"]), body=body),
            ),
        ]
        print(f"gunicorn {WORKERS} sync workers, PostgreSQL, {SECONDS}s per run, wrk")
        print(
            f"{'call':38} {'conc':>4} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'non-2xx':>7} {'vs trivial':>10}"
        )
        for connections in LEVELS:
            trivial = None
            for name, url, lua in calls:
                r = run_wrk(url, lua, connections)
                trivial = trivial or r["rps"]
                ratio = f"{trivial / r['rps']:.1f}x" if r["rps"] else "-"
                print(
                    f"{name:38} {connections:>4} {r['rps']:>9.1f} {r['p50']:>8.2f} {r['p99']:>8.2f} "
                    f"{r['errors']:>7} {ratio:>10}",
                    flush=True,
                )
    finally:
        gunicorn.send_signal(signal.SIGTERM)
        gunicorn.wait(timeout=30)


if __name__ == "__main__":
    main()
