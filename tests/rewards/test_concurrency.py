"""Races on real PostgreSQL: each thread has its own connection and its own transaction."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection, transaction

from rewards.models import PoolCode, Reward, StockMovement
from rewards.services import OutOfStock, pool_codes_import, pool_codes_take, reward_stock_take
from tests.factories import RewardFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def _race(n: int, work: Callable[[], Any]) -> tuple[list[Any], list[BaseException]]:
    """Run `work` in n threads released together; return results and errors."""
    barrier = threading.Barrier(n)
    results: list[Any] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def run() -> None:
        try:
            barrier.wait(timeout=30)
            result = work()
            with lock:
                results.append(result)
        except BaseException as exc:  # collected and asserted on by the test
            with lock:
                errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)
    return results, errors


@pytest.fixture
def pool_reward(tenant) -> Reward:
    reward = RewardFactory(
        company=tenant.company,
        fulfilment=Reward.Fulfilment.POOL,
        qty=0,
        status=Reward.Status.INACTIVE,
    )
    pool_codes_import(reward=reward, codes=[f"CODE-{i:03d}" for i in range(40)])
    return reward


def _assigned(reward: Reward) -> list[str]:
    return list(
        PoolCode.objects.filter(reward=reward, assigned_at__isnull=False).values_list(
            "code", flat=True
        )
    )


def test_concurrent_pool_takes_never_hand_out_a_code_twice(pool_reward):
    def take_one() -> str:
        with transaction.atomic():
            [code] = pool_codes_take(reward=pool_reward, count=1)
            time.sleep(0.01)  # hold the row lock so the others must skip past it
            return code.code

    results, errors = _race(60, take_one)

    assert len(results) == len(set(results))  # never the same code twice
    # A taker fails only when every free code is locked by a taker that will succeed, so the
    # 40 codes go to exactly 40 threads and the other 20 are told "out of stock".
    assert len(results) == 40
    assert len(errors) == 20 and all(isinstance(exc, OutOfStock) for exc in errors)
    assert sorted(_assigned(pool_reward)) == sorted(results)


def test_concurrent_multi_code_takes_never_overlap_or_exceed_the_pool(pool_reward):
    def take_three() -> list[str]:
        with transaction.atomic():
            codes = pool_codes_take(reward=pool_reward, count=3)
            time.sleep(0.01)
            return [code.code for code in codes]

    results, errors = _race(30, take_three)

    handed_out = [code for codes in results for code in codes]
    assert all(len(codes) == 3 for codes in results)
    assert len(handed_out) == len(set(handed_out)) <= 40
    assert all(isinstance(exc, OutOfStock) for exc in errors)
    assert len(results) + len(errors) == 30
    # A failed take rolls back: only the codes actually handed out are marked assigned.
    assert sorted(_assigned(pool_reward)) == sorted(handed_out)


def test_concurrent_stock_and_pool_takes_stay_in_step(pool_reward):
    """The orders' path: stock and a code in one transaction, so stock always equals free codes."""

    def redeem_one() -> str:
        with transaction.atomic():
            reward_stock_take(quantities={pool_reward.pk: 1}, reason="order", reference="race")
            return pool_codes_take(reward=pool_reward, count=1)[0].code

    results, errors = _race(60, redeem_one)

    assert len(results) == len(set(results)) == 40
    assert len(errors) == 20 and all(isinstance(exc, OutOfStock) for exc in errors)
    pool_reward.refresh_from_db()
    assert (pool_reward.qty, pool_reward.status) == (0, Reward.Status.INACTIVE)
    assert not PoolCode.objects.filter(reward=pool_reward, assigned_at__isnull=True).exists()
    assert StockMovement.objects.filter(reward=pool_reward, reason="order").count() == 40


def test_concurrent_pool_imports_of_overlapping_files_add_each_code_once(pool_reward):
    def load() -> int:
        files = [f"NEW-{i:03d}" for i in range(50)]
        return pool_codes_import(reward=pool_reward, codes=files).added

    results, errors = _race(8, load)

    assert not errors
    assert sum(results) == 50
    pool_reward.refresh_from_db()
    assert pool_reward.qty == 90 == pool_reward.pool_codes.filter(assigned_at__isnull=True).count()
