"""Demo data for `make run`. Idempotent: running it again changes nothing but the secret."""

from __future__ import annotations

import json
from decimal import Decimal

from django.core.management.base import BaseCommand
from django.db import transaction

from companies.models import Company, CompanySecret, Store
from companies.services import company_secret_issue, company_secret_revoke
from rewards.catalog_import import BIGCITY_DEMO_CATALOG, catalog_import

DEMO_CLIENT_ID = "bigcity-demo"
DEMO_SECRET_LABEL = "seed_demo"


class Command(BaseCommand):
    help = "Load the demo company, its stores and catalog; print a fresh secret and a curl line."

    def add_arguments(self, parser):
        parser.add_argument("--port", default="8000")

    @transaction.atomic
    def handle(self, *args, **opts):
        company, _ = Company.objects.get_or_create(
            client_id=DEMO_CLIENT_ID,
            defaults={"name": "BIGCITY Demo", "points_earn_rate": Decimal("0.1")},
        )
        for code in ("store-001", "store-002"):
            Store.objects.get_or_create(company=company, code=code)
        self.load_catalog(company)

        # A fresh secret each run: the previous demo secret is revoked, so they never pile up.
        for old in CompanySecret.objects.filter(
            company=company, label=DEMO_SECRET_LABEL, revoked_at__isnull=True
        ):
            company_secret_revoke(secret=old)
        _, secret = company_secret_issue(company=company, label=DEMO_SECRET_LABEL)

        port = opts["port"]
        self.stdout.write(f"Demo company client id: {company.client_id}")
        self.stdout.write(f"Demo company secret:    {secret}")
        self.stdout.write("Try it:")
        self.stdout.write(
            f"  curl -s -X POST http://127.0.0.1:{port}/v1/company/auth "
            f"-H 'Content-Type: application/json' -d '{{\"secret\": \"{secret}\"}}'"
        )

    def load_catalog(self, company: Company) -> None:
        """The seed's four BIGCITY rewards, through the catalog import. The file lists them in
        the seed's order (10, 30, 40, 50), so ids ascend the same way and the rewards list,
        ordered by id, reads like the seed's example. Importing it again changes nothing."""
        rows = json.loads(BIGCITY_DEMO_CATALOG.read_text(encoding="utf-8"))
        result = catalog_import(company=company, rows=rows)
        self.stdout.write(f"Demo catalog: {result.summary()}")
