"""python manage.py import_catalog --company CLIENT_ID FILE.json"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from companies.models import Company
from rewards.catalog_import import CatalogImportError, catalog_import


class Command(BaseCommand):
    help = (
        "Create or update a company's rewards, by key, from a JSON array of objects. The file "
        "is checked as a whole first: any bad row (numbered from 0) refuses the whole file."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="JSON file: an array of reward objects")
        parser.add_argument("--company", required=True, help="the company's client id")
        parser.add_argument(
            "--dry-run", action="store_true", help="check the file and report; write nothing"
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        company = Company.objects.filter(client_id=opts["company"]).first()
        if company is None:
            raise CommandError(f"No company with client id {opts['company']!r}")
        try:
            rows = json.loads(Path(opts["file"]).read_text(encoding="utf-8"))
        except OSError as exc:
            raise CommandError(f"Cannot read {opts['file']}: {exc.strerror}") from exc
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise CommandError(f"{opts['file']} is not valid JSON: {exc}") from exc
        try:
            result = catalog_import(company=company, rows=rows, dry_run=opts["dry_run"])
        except CatalogImportError as exc:
            raise CommandError(
                "\n".join([f"{exc.message}:", *(f"  {line}" for line in exc.row_errors)])
            ) from exc
        prefix = "Dry run, nothing written: " if opts["dry_run"] else ""
        self.stdout.write(f"{prefix}{company.client_id}: {result.summary()}")
