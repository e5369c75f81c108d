"""Catalog factories (kept beside the catalog's tests; tests/factories.py holds the shared ones)."""

from __future__ import annotations

from decimal import Decimal

import factory

from rewards.models import Brand, Reward, Sku
from tests.factories import CompanyFactory


class BrandFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Brand

    company = factory.SubFactory(CompanyFactory)
    name = factory.Sequence(lambda n: f"Brand {n}")


class RewardFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Reward

    company = factory.SubFactory(CompanyFactory)
    brand = factory.SubFactory(BrandFactory, company=factory.SelfAttribute("..company"))
    key = factory.Sequence(lambda n: f"reward-{n}")
    name = factory.Sequence(lambda n: f"Reward {n}")
    denomination_value = Decimal("10")
    status = Reward.Status.ACTIVE
    qty = None
    fulfilment = Reward.Fulfilment.GENERATED


class SkuFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Sku

    reward = factory.SubFactory(RewardFactory)
    company = factory.SelfAttribute("reward.company")
    code = factory.Sequence(lambda n: f"SKU-{n}")
    product_name = factory.Sequence(lambda n: f"Product {n}")
