from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command
from django.db import transaction
from django.db.models import Sum

from config.api.errors import ApplicationError
from rewards.models import PoolCode, Reward, StockMovement
from rewards.services import (
    OutOfStock,
    pool_codes_import,
    pool_codes_read_csv,
    pool_codes_take,
    reward_stock_adjust,
)
from tests.factories import RewardFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def pool_reward(tenant) -> Reward:
    return RewardFactory(
        company=tenant.company,
        key="pool-100",
        fulfilment=Reward.Fulfilment.POOL,
        qty=0,
        status=Reward.Status.INACTIVE,
    )


def test_pool_import_adds_codes_and_raises_stock_with_a_movement(pool_reward, staff_user):
    result = pool_codes_import(
        reward=pool_reward, codes=["A1", " B2 ", "A1", "", "C3"], actor=staff_user
    )

    assert (result.added, result.duplicates, result.blank, result.qty) == (3, 1, 1, 3)
    assert list(pool_reward.pool_codes.values_list("code", flat=True)) == ["A1", "B2", "C3"]
    pool_reward.refresh_from_db()
    # A pool reward that had no codes becomes active once it has some.
    assert (pool_reward.qty, pool_reward.status) == (3, Reward.Status.ACTIVE)
    movement = pool_reward.movements.get()
    assert (movement.delta, movement.qty_after, movement.reason, movement.actor) == (
        3,
        3,
        StockMovement.Reason.POOL_IMPORT,
        staff_user,
    )


def test_codes_already_loaded_are_skipped_and_counted(pool_reward):
    pool_codes_import(reward=pool_reward, codes=["A1", "B2"])

    result = pool_codes_import(reward=pool_reward, codes=["B2", "C3", "A1"])

    assert (result.added, result.duplicates, result.qty) == (1, 2, 3)
    pool_reward.refresh_from_db()
    assert pool_reward.qty == pool_reward.pool_codes.count() == 3
    assert pool_reward.movements.aggregate(s=Sum("delta"))["s"] == 3


def test_a_code_in_another_pool_is_skipped_because_codes_are_platform_unique(pool_reward, tenant):
    other = RewardFactory(
        company=tenant.company,
        key="pool-200",
        fulfilment=Reward.Fulfilment.POOL,
        qty=0,
        status=Reward.Status.INACTIVE,
    )
    pool_codes_import(reward=other, codes=["SHARED-1"])

    result = pool_codes_import(reward=pool_reward, codes=["SHARED-1", "OWN-1"])

    assert (result.added, result.duplicates) == (1, 1)
    assert list(pool_reward.pool_codes.values_list("code", flat=True)) == ["OWN-1"]


def test_a_file_of_known_codes_changes_nothing(pool_reward):
    pool_codes_import(reward=pool_reward, codes=["A1"])

    result = pool_codes_import(reward=pool_reward, codes=["A1", "A1"])

    assert (result.added, result.duplicates) == (0, 2)
    assert pool_reward.movements.count() == 1


def test_a_code_that_is_too_long_refuses_the_whole_file(pool_reward):
    with pytest.raises(ApplicationError) as caught:
        pool_codes_import(reward=pool_reward, codes=["OK", "X" * 101])

    assert caught.value.errors == {"codes": ["code 2: longer than 100"]}
    assert not PoolCode.objects.exists()
    pool_reward.refresh_from_db()
    assert pool_reward.qty == 0


def test_codes_load_only_into_pool_rewards(tenant):
    reward = RewardFactory(company=tenant.company, fulfilment=Reward.Fulfilment.GENERATED)

    with pytest.raises(ApplicationError) as caught:
        pool_codes_import(reward=reward, codes=["A1"])

    assert caught.value.type == "not_a_pool_reward"
    assert not PoolCode.objects.exists()


def test_an_adjustment_cannot_raise_a_pool_reward_above_its_codes(pool_reward):
    pool_codes_import(reward=pool_reward, codes=["A1", "B2"])

    with pytest.raises(ApplicationError) as caught:
        reward_stock_adjust(reward=pool_reward, delta=1, note="typo")

    assert caught.value.type == "pool_codes_short"
    reward_stock_adjust(reward=pool_reward, delta=-1, note="one code leaked")
    pool_reward.refresh_from_db()
    assert pool_reward.qty == 1


def test_pool_take_hands_out_codes_in_order_and_refuses_when_short(pool_reward):
    pool_codes_import(reward=pool_reward, codes=["A1", "B2"])

    with transaction.atomic():
        taken = pool_codes_take(reward=pool_reward, count=1)
    assert [code.code for code in taken] == ["A1"]
    with pytest.raises(OutOfStock), transaction.atomic():
        pool_codes_take(reward=pool_reward, count=2)
    assert PoolCode.objects.filter(assigned_at__isnull=True).count() == 1


@pytest.mark.parametrize(
    ("text", "codes"),
    [
        ("code\nA1\nB2\n", ["A1", "B2"]),
        ("\ufeffCode\r\nA1\r\n", ["A1"]),
        ("A1,extra\nB2\n\n", ["A1", "B2", ""]),
        ('"quoted,code",x\n', ["quoted,code"]),
        ("", []),
    ],
)
def test_csv_reading_takes_the_first_column_and_an_optional_header(text, codes):
    assert pool_codes_read_csv(text=text) == codes


def test_import_pool_codes_command(tenant, pool_reward, tmp_path):
    path = tmp_path / "codes.csv"
    path.write_text("code\nA1\nB2\nA1\n", encoding="utf-8")
    out = io.StringIO()

    call_command(
        "import_pool_codes",
        str(path),
        "--company",
        tenant.company.client_id,
        "--reward",
        "pool-100",
        stdout=out,
    )

    assert out.getvalue().strip() == (
        "pool-100: 2 added, 1 duplicates skipped, 0 blank rows skipped; stock now 2"
    )


def test_import_pool_codes_command_refuses_another_companys_reward(
    other_tenant, pool_reward, tmp_path
):
    path = tmp_path / "codes.csv"
    path.write_text("A1\n", encoding="utf-8")

    with pytest.raises(CommandError, match="No reward 'pool-100'"):
        call_command(
            "import_pool_codes",
            str(path),
            "--company",
            other_tenant.company.client_id,
            "--reward",
            "pool-100",
        )
    assert not PoolCode.objects.exists()


def test_import_pool_codes_command_reports_a_bad_reward_kind(tenant, tmp_path):
    RewardFactory(company=tenant.company, key="gen")
    path = tmp_path / "codes.csv"
    path.write_text("A1\n", encoding="utf-8")

    with pytest.raises(CommandError, match="only for a reward fulfilled from a code pool"):
        call_command(
            "import_pool_codes", str(path), "--company", tenant.company.client_id, "--reward", "gen"
        )
