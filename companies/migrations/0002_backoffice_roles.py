"""The back-office roles: `Program managers` and `Finance` groups with exactly the permissions
their work needs (docs/backoffice.md explains each). Superusers need no group.

It lives in `companies` only because that app's migrations are not being written by anyone else;
it depends on the latest migration of every app whose permissions it grants.

Permissions are normally created by a post_migrate signal, after *all* migrations ran, so on a
fresh database they do not exist yet when this runs: create them here first (idempotent).

The lists are frozen here on purpose (a migration must not import code that may change later):
changing a role means a new migration.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

PROGRAM_MANAGERS = "Program managers"
FINANCE = "Finance"

ROLES = {
    PROGRAM_MANAGERS: {
        "rewards": {
            "brand": ["view", "add", "change"],
            # No delete: a reward with history is deactivated, never deleted.
            "reward": ["view", "add", "change"],
            "sku": ["view", "add", "change", "delete"],
            # Adding a movement = the "Adjust stock" page (the ledger itself stays read-only).
            "stockmovement": ["view", "add"],
            # Adding pool codes = the "Upload pool codes" page.
            "poolcode": ["view", "add"],
            "vendor": ["view", "add", "change"],
            "lowstockalert": ["view"],
        },
        "customers": {"customer": ["view"]},
        "orders": {"order": ["view_dashboard"]},
    },
    FINANCE: {
        "orders": {
            "order": ["view", "export_orders", "view_dashboard"],
            "lineitem": ["view"],
            "voucher": ["view"],
            "rewardissue": ["view"],
        },
        "loyalty": {"pointsledgerentry": ["view"]},
    },
}


def _codename(action: str, model: str) -> str:
    # Built-in actions are "<action>_<model>"; custom permissions are named in full.
    return f"{action}_{model}" if action in ("view", "add", "change", "delete") else action


def roles_create(apps, schema_editor):
    for app_config in apps.get_app_configs():
        app_config.models_module = True  # historical app configs have none; create_permissions needs one
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    groups_set(apps)


def groups_set(apps):
    """Create the groups (when missing) and set their permissions to exactly ROLES. Also used
    by the tests, to put the groups back after a transactional test flushed the database."""
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for group_name, apps_models in ROLES.items():
        group, _ = Group.objects.get_or_create(name=group_name)
        wanted = []
        for app_label, models in apps_models.items():
            for model, actions in models.items():
                for action in actions:
                    wanted.append(
                        Permission.objects.get(
                            content_type__app_label=app_label,
                            content_type__model=model,
                            codename=_codename(action, model),
                        )
                    )
        group.permissions.set(wanted)


def roles_delete(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=list(ROLES)).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("companies", "0001_initial"),
        ("customers", "0002_customer_segments"),
        ("rewards", "0004_reward_low_stock_alerted_lowstockalert"),
        ("loyalty", "0002_customergroup_pointsledgerentry_group_validationcode_and_more"),
        ("orders", "0004_backoffice_permissions_voucher_created_idx"),
    ]

    operations = [migrations.RunPython(roles_create, roles_delete)]
