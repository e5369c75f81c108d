"""Benchmark of the finance export (and the dashboard's queries) on a million vouchers.

    make bench-export                     # throwaway PostgreSQL + Redis, then this script
    BENCH_ORDERS=200000 make bench-export # a smaller data set

On the PostgreSQL named by DATABASE_URL it migrates, then creates BENCH_ORDERS orders (default
1,000,000), each with one line item and one voucher, spread over the last BENCH_DAYS days
(default 90), in three INSERT ... SELECT statements over generate_series (a minute, not hours).
Each generated row copies a template row made by the ORM, so columns this script does not name
get the model's defaults and the script keeps working when models gain fields.

Then it measures, each in its own subprocess (wall time and that process's peak RSS, from
os.wait4's rusage):

* `manage.py export_orders --from ... --to ... --output FILE` (CSV, every row);
* the admin's CSV export view, driven by Django's test client, consuming the stream;
* with BENCH_XLSX=1, the command again with `--format xlsx`.

and times the dashboard's queries (best of three) with their EXPLAIN plans.
Target: every export under 200 MB peak RSS.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
ORDERS = int(os.environ.get("BENCH_ORDERS", "1000000"))
DAYS = int(os.environ.get("BENCH_DAYS", "90"))
CUSTOMERS = int(os.environ.get("BENCH_CUSTOMERS", "10000"))
REWARDS = 20
RSS_TARGET_MB = 200
CLIENT_ID = "bench-export"


def django_env() -> dict[str, str]:
    return {
        **os.environ,
        # Production settings: DEBUG off (DEBUG would keep every query in memory).
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "DJANGO_SECRET_KEY": "bench-" + "k" * 50,
        "JWT_SIGNING_KEY": "bench-" + "j" * 50,
        "DJANGO_ALLOWED_HOSTS": "testserver,127.0.0.1,localhost",
        "DJANGO_SECURE_SSL_REDIRECT": "false",
        "LOG_LEVEL": "WARNING",
    }


def clone_rows(
    cursor, *, table: str, template_id: int, values: dict[str, str], source: str, params=()
):
    """INSERT into `table` one row per row of `source` (SQL FROM items), copying the template
    row's columns except those `values` sets (SQL expressions over `source`'s aliases)."""
    from django.db import connection

    columns = [
        c.name
        for c in connection.introspection.get_table_description(cursor, table)
        if c.name != "id"
    ]
    select = ", ".join(values.get(c, f"t.{c}") for c in columns)
    cursor.execute(
        f"INSERT INTO {table} ({', '.join(columns)}) "
        f"SELECT {select} FROM {table} t, {source} WHERE t.id = %s",
        [*params, template_id],
    )
    return cursor.rowcount


def create_data() -> tuple[dt.date, dt.date]:
    from django.db import connection, transaction
    from django.utils import timezone

    from companies.models import Company
    from customers.models import Customer
    from orders.models import LineItem, Order, Voucher
    from rewards.models import Brand, Reward

    now = timezone.now()
    # Rows go back DAYS - 1 days and up to a day more (the second of the day): cover it all.
    first_day = (now - dt.timedelta(days=DAYS)).date()
    company = Company.objects.filter(client_id=CLIENT_ID).first()
    if company is not None and Order.objects.filter(company=company).count() >= ORDERS:
        print(f"data set already there: {ORDERS:,} orders of {CLIENT_ID}")
        return first_day, timezone.localdate()

    started = time.monotonic()
    with transaction.atomic():
        company = Company.objects.create(
            name="Bench export", client_id=CLIENT_ID, points_earn_rate=Decimal("0.1")
        )
        brand = Brand.objects.create(company=company, name="BENCH")
        rewards = [
            Reward.objects.create(
                company=company,
                brand=brand,
                key=f"bench-{n}",
                name=f"Reward {n}",
                denomination_value=Decimal(10 * (n + 1)),
                qty=None if n % 4 else 5,  # a few limited rewards, low on stock
                qty_trigger_limit=10,
            )
            for n in range(REWARDS)
        ]
        template_customer = Customer.objects.create(
            company=company, name="Template", mobile="9100000000"
        )
        template_order = Order.objects.create(
            company=company,
            customer=template_customer,
            order_timestamp=now,
            order_total=Decimal("100"),
            order_items=1,
            points_earned=10,
        )
        template_line = LineItem.objects.create(
            order=template_order, sku="BENCH SKU", quantity=1, price=Decimal("100")
        )
        template_voucher = Voucher.objects.create(
            company=company,
            customer=template_customer,
            reward=rewards[0],
            order=template_order,
            line_item=template_line,
            code="TEMPLATE",
            denomination_value=Decimal("10"),
            issued_at=now,
        )
        reward_ids = [r.pk for r in rewards]
        with connection.cursor() as cursor:
            clone_rows(
                cursor,
                table="customers_customer",
                template_id=template_customer.pk,
                values={"mobile": "'92' || lpad(g::text, 8, '0')", "name": "'Customer ' || g"},
                source="generate_series(1, %s) g",
                params=[CUSTOMERS],
            )
            first_customer = Customer.objects.filter(company=company).order_by("id")[1].pk
            # Spread over DAYS days, at any second of the day; ids follow time only roughly.
            stamp = f"(%s::timestamptz - ((g %% {DAYS}) * interval '1 day') - ((g::bigint * 7919) %% 86400) * interval '1 second')"
            clone_rows(
                cursor,
                table="orders_order",
                template_id=template_order.pk,
                values={
                    "public_id": "'ord_' || lpad(to_hex(g), 24, '0')",
                    "customer_id": f"{first_customer} + (g %% {CUSTOMERS})",
                    "order_timestamp": stamp,
                    "created_at": stamp,
                },
                source="generate_series(1, %s) g",
                params=[now, now, ORDERS],
            )
            clone_rows(
                cursor,
                table="orders_lineitem",
                template_id=template_line.pk,
                values={
                    "order_id": "o.id",
                    "reward_id": f"(ARRAY{reward_ids})[1 + o.id %% {REWARDS}]",
                    "sku": f"'BENCH SKU ' || (o.id %% {REWARDS})",
                },
                source="(SELECT id FROM orders_order WHERE company_id = %s AND id <> %s) o",
                params=[company.pk, template_order.pk],
            )
            clone_rows(
                cursor,
                table="orders_voucher",
                template_id=template_voucher.pk,
                values={
                    "order_id": "li.order_id",
                    "line_item_id": "li.id",
                    "reward_id": "li.reward_id",
                    "customer_id": "o.customer_id",
                    "code": "'BX' || lpad(li.id::text, 14, '0')",
                    # One in a thousand failed at the vendor.
                    "status": "CASE WHEN li.id %% 1000 = 0 THEN 'failed' ELSE 'issued' END",
                    "created_at": "o.created_at",
                    "updated_at": "o.created_at",
                    "issued_at": "o.created_at",
                },
                source="orders_lineitem li JOIN orders_order o ON o.id = li.order_id "
                "AND o.company_id = %s AND o.id <> %s",
                params=[company.pk, template_order.pk],
            )
        template_order.delete()  # its line item and voucher go with it
        template_customer.delete()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")  # as autovacuum would: visibility map, statistics
    print(
        f"created {ORDERS:,} orders, {ORDERS:,} line items and vouchers, {CUSTOMERS:,} customers "
        f"in {time.monotonic() - started:.1f} s"
    )
    return first_day, timezone.localdate()


def measure(label: str, argv: list[str], output: Path | None = None) -> tuple[float, float]:
    """Run argv; return (wall seconds, peak RSS in MB) of that one process."""
    started = time.monotonic()
    process = subprocess.Popen(argv, cwd=ROOT, env=django_env(), stdout=subprocess.PIPE)
    assert process.stdout is not None
    out = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.monotonic() - started
    if process.returncode != 0:
        raise SystemExit(f"{label} failed ({process.returncode}): {out.decode()[-2000:]}")
    rss_mb = usage.ru_maxrss / 1024  # kilobytes on Linux
    detail = out.decode().strip().splitlines()[-1] if out.strip() else ""
    size = f", {output.stat().st_size / 1e6:.0f} MB file" if output and output.exists() else ""
    verdict = "OK" if rss_mb < RSS_TARGET_MB else f"OVER the {RSS_TARGET_MB} MB target"
    print(f"{label:<34} {seconds:7.1f} s   peak RSS {rss_mb:6.1f} MB  {verdict}{size}  {detail}")
    return seconds, rss_mb


ADMIN_EXPORT = """
import os, django
django.setup()
from django.contrib.auth import get_user_model
from django.test import Client
user = get_user_model().objects.filter(username="bench-root").first() or \\
    get_user_model().objects.create_superuser("bench-root", "b@example.com", "pw")
client = Client()
client.force_login(user)
response = client.get("/admin/orders/order/export/csv/", {"company__id__exact": %d},
                      secure=True)
assert response.status_code == 200, response.status_code
lines = size = 0
for chunk in response.streaming_content:
    lines += chunk.count(b"\\n")
    size += len(chunk)
print(f"{lines - 1:,} rows, {size / 1e6:.0f} MB streamed")
"""


def time_dashboard() -> None:
    from orders import dashboard

    since = dashboard.dashboard_since()
    checks = {
        "orders per day (30 days)": lambda: list(
            dashboard.per_day_queryset(dashboard.Order, since=since)
        ),
        "vouchers per day (30 days)": lambda: list(
            dashboard.per_day_queryset(dashboard.Voucher, since=since)
        ),
        "top rewards (30 days)": lambda: dashboard.dashboard_top_rewards(since=since),
        "rewards at/under threshold": dashboard.dashboard_low_stock,
        "failed fulfilments": lambda: dashboard.dashboard_failed_fulfilments(since=since),
    }
    in_window = dashboard.Voucher.objects.filter(created_at__gte=since).count()
    print(f"\ndashboard queries ({in_window:,} vouchers in the 30-day window), best of 3:")
    for label, run in checks.items():
        best = min(_timed(run) for _ in range(3))
        print(f"  {label:<30} {best * 1000:8.1f} ms")
    print("\nplans:")
    plans = {
        "vouchers per day": dashboard.per_day_queryset(dashboard.Voucher, since=since),
        "orders per day": dashboard.per_day_queryset(dashboard.Order, since=since),
        "top rewards": dashboard.top_rewards_queryset(since=since, limit=10),
        "failed count": dashboard.Voucher.objects.filter(status="failed", created_at__gte=since),
    }
    for label, queryset in plans.items():
        plan = (
            queryset.explain(analyze=True)
            if label != "failed count"
            else (queryset.order_by().values("id").explain(analyze=True))
        )
        scans = [
            line.strip().split("  (")[0].lstrip("-> ")
            for line in plan.splitlines()
            if "Scan" in line
        ]
        print(f"  {label:<18} {'; '.join(scans)}")


def _timed(run) -> float:
    started = time.perf_counter()
    run()
    return time.perf_counter() - started


def main() -> None:
    os.environ.update(django_env())
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        raise SystemExit("Set DATABASE_URL to a PostgreSQL database (or run `make bench-export`).")
    call_command("migrate", verbosity=0)
    first_day, last_day = create_data()

    from companies.models import Company

    company = Company.objects.get(client_id=CLIENT_ID)
    with tempfile.TemporaryDirectory() as tmp:
        csv_path = Path(tmp) / "orders.csv"
        print(f"\nexport of {ORDERS:,} vouchers, {first_day} to {last_day}:")
        command = [
            PY,
            "manage.py",
            "export_orders",
            "--from",
            str(first_day),
            "--to",
            str(last_day),
        ]
        measure("export_orders (CSV, command)", [*command, "--output", str(csv_path)], csv_path)
        with csv_path.open("rb") as file:
            rows = sum(1 for _ in file) - 1
        print(f"{'':<34} {rows:,} rows in the file")
        if rows != ORDERS:
            raise SystemExit(f"expected {ORDERS:,} rows, got {rows:,}")
        csv_path.unlink()
        measure("admin CSV view (streamed)", [PY, "-c", ADMIN_EXPORT % company.pk])
        if os.environ.get("BENCH_XLSX") == "1":
            xlsx_path = Path(tmp) / "orders.xlsx"
            measure(
                "export_orders (XLSX, command)",
                [*command, "--format", "xlsx", "--output", str(xlsx_path)],
                xlsx_path,
            )
    time_dashboard()


if __name__ == "__main__":
    main()
