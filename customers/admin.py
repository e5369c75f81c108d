from django.contrib import admin

from .models import Customer


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ("name", "mobile", "email", "external_id", "company", "points_balance")
    search_fields = ("name", "mobile", "email", "external_id")
    list_filter = ("company",)
    readonly_fields = ("points_balance", "points_held", "created_at", "updated_at")
    list_select_related = ("company",)
