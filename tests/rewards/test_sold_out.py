from __future__ import annotations

import pytest
from django.db import transaction

from rewards.models import Reward
from rewards.services import (
    reward_status_set,
    reward_stock_adjust,
    reward_stock_return,
    reward_stock_take,
)
from tests.factories import RewardFactory

pytestmark = pytest.mark.django_db


def _sell(reward: Reward, units: int) -> None:
    with transaction.atomic():
        reward_stock_take(quantities={reward.pk: units}, reason="order", reference="ord_x")


def test_a_returned_unit_switches_a_sold_out_reward_back_on(tenant):
    reward = RewardFactory(company=tenant.company, qty=1)
    _sell(reward, 1)
    reward.refresh_from_db()
    assert (reward.qty, reward.status, reward.sold_out) == (0, Reward.Status.INACTIVE, True)

    reward_stock_return(reward_id=reward.pk, units=1, reason="voucher_failed")

    reward.refresh_from_db()
    assert (reward.qty, reward.status, reward.sold_out) == (1, Reward.Status.ACTIVE, False)


def test_a_reward_staff_switched_off_stays_off_when_a_unit_comes_back(tenant):
    reward = RewardFactory(company=tenant.company, qty=1)
    _sell(reward, 1)
    reward_status_set(reward=reward, status=Reward.Status.INACTIVE)  # staff confirm: keep it off

    reward_stock_return(reward_id=reward.pk, units=1, reason="voucher_failed")

    reward.refresh_from_db()
    assert (reward.qty, reward.status) == (1, Reward.Status.INACTIVE)


def test_a_staff_adjustment_to_zero_is_not_a_sell_out(tenant):
    reward = RewardFactory(company=tenant.company, qty=3)
    reward_stock_adjust(reward=reward, delta=-3, note="stock count")
    reward_stock_return(reward_id=reward.pk, units=1, reason="voucher_failed")
    reward.refresh_from_db()
    assert (reward.qty, reward.status, reward.sold_out) == (1, Reward.Status.INACTIVE, False)
