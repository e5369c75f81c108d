import json
from decimal import Decimal, InvalidOperation

from django.core.management.base import BaseCommand, CommandError

from companies.models import Company
from companies.services import company_create
from config.api.errors import ApplicationError


class Command(BaseCommand):
    help = "Create a company with its stores; prints one JSON line with its client id and secret."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--client-id", required=True)
        parser.add_argument("--parent", help="client id of the parent company (connected orgs)")
        parser.add_argument("--store", action="append", default=[], help="store code; repeat")
        parser.add_argument("--earn-rate", default="0", help="points per currency unit")

    def handle(self, *args, **opts):
        parent = None
        if opts["parent"]:
            parent = Company.objects.filter(client_id=opts["parent"]).first()
            if parent is None:
                raise CommandError(f"No company with client id {opts['parent']!r}")
        try:
            rate = Decimal(opts["earn_rate"])
        except InvalidOperation as exc:
            raise CommandError("--earn-rate must be a number") from exc
        try:
            company, secret = company_create(
                name=opts["name"],
                client_id=opts["client_id"],
                parent=parent,
                store_codes=opts["store"],
                points_earn_rate=rate,
            )
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        except Exception as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(json.dumps({"client_id": company.client_id, "secret": secret}))
