from django.contrib import admin
from django.contrib.admin import FieldListFilter
from django.contrib.admin.utils import get_fields_from_path
from django.db.models import Field


class ReadOnlyAdmin(admin.ModelAdmin):
    """Records of what happened: operators look, nobody edits or deletes."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


def offered_parameters(model_admin: admin.ModelAdmin, request) -> set[str]:
    """The query parameters a changelist's own filters read (its `list_filter`, its
    `date_hierarchy`): the only lookups it offers."""
    model = model_admin.model
    offered: set[str] = set()
    for list_filter in model_admin.get_list_filter(request):
        if callable(list_filter) and not isinstance(list_filter, (str, tuple, list)):
            spec = list_filter(request, {}, model, model_admin)
        else:
            field, make = (
                list_filter
                if isinstance(list_filter, (tuple, list))
                else (list_filter, FieldListFilter.create)
            )
            field_path = None
            if not isinstance(field, Field):
                field_path = field
                field = get_fields_from_path(model, field_path)[-1]
            spec = make(field, request, {}, model, model_admin, field_path=field_path)
        offered.update(spec.expected_parameters())
    if hierarchy := model_admin.date_hierarchy:
        offered.update(f"{hierarchy}__{part}" for part in ("year", "month", "day"))
    # `field=` says what `field__exact=` does.
    offered.update(name.removesuffix("__exact") for name in list(offered))
    return offered


def offer_only_listed_lookups(site: admin.AdminSite) -> None:
    """Every changelist of `site` filters only by what its filters offer. Django's own
    `lookup_allowed` lets any lookup on a model's own fields through the query string: a
    staff member who may only view rounds could ask `?server_seed__startswith=7` of the
    open round, one character at a time, and read its secret seed."""
    for model_admin in site._registry.values():
        model_admin.lookup_allowed = _only_offered(model_admin)


def _only_offered(model_admin: admin.ModelAdmin):
    def lookup_allowed(lookup: str, value, request=None) -> bool:
        return lookup in offered_parameters(model_admin, request)

    return lookup_allowed
