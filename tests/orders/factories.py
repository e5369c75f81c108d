from __future__ import annotations

from decimal import Decimal

import factory

from rewards.models import Brand, PoolCode, Reward, Sku
from tests.factories import CompanyFactory


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
