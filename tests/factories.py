from __future__ import annotations

from decimal import Decimal

import factory

from companies.models import Company, Store
from customers.models import Customer
from rewards.models import Brand, PoolCode, Reward, Sku


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


class BrandFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Brand

    company = factory.SubFactory(CompanyFactory)
    name = factory.Sequence(lambda n: f"Brand {n}")


class RewardFactory(factory.django.DjangoModelFactory):
    """Unlimited (qty None), active, generated codes, unless told otherwise."""

    class Meta:
        model = Reward

    company = factory.SubFactory(CompanyFactory)
    brand = factory.SubFactory(BrandFactory, company=factory.SelfAttribute("..company"))
    key = factory.Sequence(lambda n: f"reward-{n}")
    name = factory.Sequence(lambda n: f"Reward {n}")
    denomination_value = Decimal("10")
    qty = None


class SkuFactory(factory.django.DjangoModelFactory):
    """`company` follows the reward's; `code_normalized` is a generated column, never set."""

    class Meta:
        model = Sku

    reward = factory.SubFactory(RewardFactory)
    company = factory.SelfAttribute("reward.company")
    code = factory.Sequence(lambda n: f"SKU-{n}")
    product_name = factory.LazyAttribute(lambda o: o.code)


class PoolCodeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PoolCode

    reward = factory.SubFactory(RewardFactory)
    code = factory.Sequence(lambda n: f"POOL-{n:06d}")


def reward_with_sku(company, sku: str, **reward_fields) -> Reward:
    reward = RewardFactory(company=company, **reward_fields)
    SkuFactory(reward=reward, code=sku)
    return reward
