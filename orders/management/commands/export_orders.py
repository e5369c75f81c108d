"""python manage.py export_orders --from DATE --to DATE [--company CLIENT_ID] [--status S]
[--format csv|xlsx] [--output FILE] [--show-codes] [--no-issues]

One row per voucher of the orders recorded on those days, then of the reward issues (loyalty
issue call, no order) recorded on those days, unless --no-issues (docs/backoffice.md lists the
columns). Voucher codes are masked unless --show-codes is given. Memory stays flat whatever the
size (orders.exports); with --output on a terminal, a progress bar shows on stdout.
"""

from __future__ import annotations

import datetime as dt
import sys
import time
from collections.abc import Iterator
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from companies.models import Company
from orders.exports import (
    Row,
    csv_chunks,
    issues_for_export,
    order_export_count,
    order_export_rows,
    orders_for_export,
    xlsx_write,
)
from orders.models import Order


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise CommandError(f"{value!r} is not a date (YYYY-MM-DD)") from exc


class ProgressBar:
    """A one-line bar redrawn in place (carriage return) at most ten times a second."""

    WIDTH = 30

    def __init__(self, out: Any, total: int) -> None:
        self.out, self.total, self.done = out, total, 0
        self.started = self.drawn_at = time.monotonic()

    def tick(self) -> None:
        self.done += 1
        now = time.monotonic()
        if now - self.drawn_at >= 0.1:
            self.drawn_at = now
            self.draw(now)

    def draw(self, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        fraction = min(self.done / self.total, 1.0) if self.total else 1.0
        filled = int(fraction * self.WIDTH)
        bar = "#" * filled + "-" * (self.WIDTH - filled)
        self.out.write(
            f"\r[{bar}] {fraction:4.0%} {self.done:,}/{self.total:,} rows "
            f"{now - self.started:5.1f}s",
            ending="",
        )
        self.out.flush()

    def finish(self) -> None:
        self.draw()
        self.out.write("")


class Command(BaseCommand):
    help = (
        "Export order history, one row per voucher, for orders and reward issues recorded "
        "between --from and --to (inclusive days), as CSV or XLSX. Voucher codes are masked "
        "unless --show-codes."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--from", dest="date_from", required=True, type=_date)
        parser.add_argument("--to", dest="date_to", required=True, type=_date)
        parser.add_argument("--company", help="a company's client id (default: every company)")
        parser.add_argument(
            "--status",
            choices=Order.Status.values,
            help="orders in this status (and reward issues: fulfilled = issued, see the docs)",
        )
        parser.add_argument("--format", choices=["csv", "xlsx"], default="csv")
        parser.add_argument("--output", default="-", help="file to write (default: stdout)")
        parser.add_argument(
            "--show-codes", action="store_true", help="write voucher codes whole (bearer value)"
        )
        parser.add_argument(
            "--no-issues",
            dest="include_issues",
            action="store_false",
            help="orders only: leave out the vouchers of reward issues (loyalty issue call)",
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        if opts["date_to"] < opts["date_from"]:
            raise CommandError("--to is before --from")
        company = None
        if opts["company"]:
            company = Company.objects.filter(client_id=opts["company"]).first()
            if company is None:
                raise CommandError(f"No company with client id {opts['company']!r}")
        orders = orders_for_export(
            date_from=opts["date_from"],
            date_to=opts["date_to"],
            company=company,
            status=opts["status"],
        )
        issues = None
        if opts["include_issues"]:
            issues = issues_for_export(
                date_from=opts["date_from"],
                date_to=opts["date_to"],
                company=company,
                status=opts["status"],
            )
        to_stdout = opts["output"] == "-"
        if to_stdout and opts["format"] == "xlsx" and sys.stdout.isatty():
            raise CommandError("XLSX is binary: give --output FILE (or redirect stdout)")

        rows: Iterator[Row] = order_export_rows(
            orders=orders, show_codes=opts["show_codes"], issues=issues
        )
        # The bar shares the terminal with nothing else only when the data goes to a file.
        bar = None
        if not to_stdout and self.stdout.isatty():
            bar = ProgressBar(self.stdout, order_export_count(orders=orders, issues=issues))
            rows = self._counted(rows, bar)

        if opts["format"] == "csv":
            written = self._write_csv(rows, opts["output"])
        else:
            written = self._write_xlsx(rows, opts["output"])
        if bar is not None:
            bar.finish()
        if not to_stdout:
            self.stdout.write(f"{written:,} rows written to {opts['output']}")

    @staticmethod
    def _counted(rows: Iterator[Row], bar: ProgressBar) -> Iterator[Row]:
        for row in rows:
            bar.tick()
            yield row

    def _write_csv(self, rows: Iterator[Row], output: str) -> int:
        written = 0

        def counting() -> Iterator[Row]:
            nonlocal written
            for row in rows:
                written += 1
                yield row

        if output == "-":
            for chunk in csv_chunks(counting()):
                self.stdout.write(chunk, ending="")
            self.stdout.flush()
        else:
            with open(output, "w", encoding="utf-8", newline="") as file:
                for chunk in csv_chunks(counting()):
                    file.write(chunk)
        return written

    @staticmethod
    def _write_xlsx(rows: Iterator[Row], output: str) -> int:
        if output == "-":
            return xlsx_write(rows, sys.stdout.buffer)
        with open(output, "wb") as file:
            return xlsx_write(rows, file)
