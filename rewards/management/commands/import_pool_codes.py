"""python manage.py import_pool_codes --company CLIENT_ID --reward KEY FILE.csv"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from config.api.errors import ApplicationError
from rewards.models import Reward
from rewards.services import pool_codes_import, pool_codes_read_csv


class Command(BaseCommand):
    help = (
        "Load voucher codes into a pool reward from a CSV (first column; an optional header "
        "row 'code'). Codes already loaded or repeated are skipped; the stock rises by the "
        "number added."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="CSV file, one code per row")
        parser.add_argument("--company", required=True, help="the company's client id")
        parser.add_argument("--reward", required=True, help="the reward's key")

    def handle(self, *args: Any, **opts: Any) -> None:
        reward = Reward.objects.filter(
            company__client_id=opts["company"], key=opts["reward"]
        ).first()
        if reward is None:
            raise CommandError(f"No reward {opts['reward']!r} for company {opts['company']!r}")
        try:
            text = Path(opts["file"]).read_text(encoding="utf-8-sig")
        except OSError as exc:
            raise CommandError(f"Cannot read {opts['file']}: {exc.strerror}") from exc
        except UnicodeDecodeError as exc:
            raise CommandError(f"{opts['file']} is not UTF-8 text") from exc
        try:
            result = pool_codes_import(reward=reward, codes=pool_codes_read_csv(text=text))
        except ApplicationError as exc:
            lines = (exc.errors or {}).get("codes", [])[:50]
            raise CommandError("\n".join([exc.message, *(f"  {line}" for line in lines)])) from exc
        self.stdout.write(
            f"{reward.key}: {result.added} added, {result.duplicates} duplicates skipped, "
            f"{result.blank} blank rows skipped; stock now {result.qty}"
        )
