from __future__ import annotations

from decimal import Decimal

import factory

from companies.models import Company, Store
from customers.models import Customer


class CompanyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Company

    name = factory.Sequence(lambda n: f"Company {n}")
    client_id = factory.Sequence(lambda n: f"company-{n}")
    points_earn_rate = Decimal("0.1")


class StoreFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Store

    company = factory.SubFactory(CompanyFactory)
    code = factory.Sequence(lambda n: f"store-{n}")


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    company = factory.SubFactory(CompanyFactory)
    name = factory.Faker("name")
    mobile = factory.Sequence(lambda n: f"98{n:010d}")
    email = factory.LazyAttribute(lambda o: f"c{o.mobile}@example.com")
