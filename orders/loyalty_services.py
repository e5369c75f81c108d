"""The loyalty issue flow: rewards paid with points (the Capillary issue call).

Owned by the loyalty issue. `reward_issue_voucher_settled` is the contract with background
fulfilment: fulfilment calls it, inside its own transaction, once a vendor voucher that was paid
with points reaches a final state (issued or failed).
"""

from __future__ import annotations

from loyalty import services as points

from .models import Voucher


def reward_issue_voucher_settled(*, voucher: Voucher) -> None:
    """Capture (voucher issued) or release (voucher failed) the points held for `voucher`.
    Must run inside the caller's transaction, after the voucher's final status is set, and only
    once per voucher (the caller moves it out of `pending` under its row lock)."""
    if voucher.points_spent <= 0:
        return
    reference = f"voucher:{voucher.pk}"
    # A group redemption held the points in the group's pool: settle them there.
    group = voucher.issue.group if voucher.issue_id is not None else None
    if voucher.status == Voucher.Status.ISSUED:
        points.points_capture(
            customer=voucher.customer,
            points=voucher.points_spent,
            reason="vendor voucher issued",
            reference=reference,
            group=group,
        )
    elif voucher.status == Voucher.Status.FAILED:
        points.points_release(
            customer=voucher.customer,
            points=voucher.points_spent,
            reason="vendor voucher failed",
            reference=reference,
            group=group,
        )
