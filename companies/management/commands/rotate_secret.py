import json

from django.core.management.base import BaseCommand, CommandError

from companies.models import Company
from companies.services import company_secret_rotate


class Command(BaseCommand):
    help = "Issue a new secret for a company (old secrets stay live until revoked)."

    def add_arguments(self, parser):
        parser.add_argument("client_id")

    def handle(self, *args, **opts):
        company = Company.objects.filter(client_id=opts["client_id"]).first()
        if company is None:
            raise CommandError(f"No company with client id {opts['client_id']!r}")
        _, secret = company_secret_rotate(company=company)
        self.stdout.write(json.dumps({"client_id": company.client_id, "secret": secret}))
