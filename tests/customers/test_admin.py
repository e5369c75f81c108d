from __future__ import annotations

from customers.admin import CustomerAdmin
from loyalty.selectors import balances_from_ledger
from loyalty.services import points_earn


def test_admin_edit_keeps_points_earned_while_the_form_was_saved(
    admin_client, customer, monkeypatch
):
    # Given the admin has loaded the customer, and an order then earns points for them
    load = CustomerAdmin.get_object

    def load_then_earn(self, request, object_id, from_field=None):
        obj = load(self, request, object_id, from_field)
        if request.method == "POST":
            points_earn(customer=customer, points=150, reason="order", reference="ord_race")
        return obj

    monkeypatch.setattr(CustomerAdmin, "get_object", load_then_earn)

    # When the admin saves a new name from that (now stale) row
    response = admin_client.post(
        f"/admin/customers/customer/{customer.pk}/change/",
        {
            "company": customer.company_id,
            "name": "Renamed",
            "mobile": customer.mobile,
            "email": customer.email,
            "external_id": "",
            "segments": "[]",
        },
    )

    # Then the name changes and the points stay those of the ledger
    assert response.status_code == 302, response.content
    customer.refresh_from_db()
    assert customer.name == "Renamed"
    assert (customer.points_balance, customer.points_held) == (150, 0)
    assert balances_from_ledger(customer=customer) == (150, 0)
