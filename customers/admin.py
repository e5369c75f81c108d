from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from .models import Customer


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ("name", "mobile", "email", "external_id", "company", "points_balance")
    search_fields = ("name", "mobile", "email", "external_id")
    list_filter = ("company",)
    readonly_fields = ("points_balance", "points_held", "created_at", "updated_at")
    list_select_related = ("company",)

    def save_model(self, request: HttpRequest, obj: Customer, form: Any, change: bool) -> None:
        # Points move only through loyalty.services, under the customer's row lock. A full save()
        # would write back the counters as this request read them, undoing an earn or a spend
        # that committed meanwhile: write only the columns the form changed.
        if change:
            obj.save(update_fields=[*form.changed_data, "updated_at"])
        else:
            obj.save()
