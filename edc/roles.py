"""Roles (Django groups made by a data migration) and the site scoping every queryset goes through."""

from django.db.models import QuerySet

SITE_STAFF = "site_staff"
INVESTIGATOR = "investigator"
MONITOR = "monitor"
DATA_MANAGER = "data_manager"
SPONSOR_VIEWER = "sponsor_viewer"
ALL_ROLES = (SITE_STAFF, INVESTIGATOR, MONITOR, DATA_MANAGER, SPONSOR_VIEWER)

# Who may read identified clinical data and who may enter it.
CLINICAL_READERS = frozenset({SITE_STAFF, INVESTIGATOR, MONITOR, DATA_MANAGER})
DATA_ENTRY = frozenset({SITE_STAFF, INVESTIGATOR})
QUERY_RAISERS = frozenset({MONITOR, DATA_MANAGER})
SIGNERS = frozenset({INVESTIGATOR})

# Requests that only read: they need a view's read roles; every other method needs its write roles.
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

# The named user that Celery jobs and automatic queries write as.
SYSTEM_USERNAME = "edc-system"


def roles_of(user) -> frozenset[str]:
    if not user or not user.is_authenticated:
        return frozenset()
    cached = getattr(user, "_edc_roles", None)
    if cached is None:
        cached = frozenset(user.groups.values_list("name", flat=True))
        user._edc_roles = cached
    return cached


def has_any_role(user, roles) -> bool:
    if user and user.is_authenticated and user.is_superuser:
        return True
    return bool(roles_of(user) & set(roles))


def may_request(user, method: str, read_roles, write_roles) -> bool:
    """The role check of every API view and admin page: reads need a read role, writes a write role."""
    return has_any_role(user, read_roles if method in READ_METHODS else write_roles)


def site_ids_of(user) -> list[int]:
    cached = getattr(user, "_edc_site_ids", None)
    if cached is None:
        cached = list(user.edc_sites.values_list("pk", flat=True))
        user._edc_site_ids = cached
    return cached


def scope(queryset: QuerySet, user) -> QuerySet:
    """Rows of the user's sites only; superusers see every site."""
    if user.is_superuser:
        return queryset
    return queryset.filter(**{f"{queryset.model.site_lookup}__in": site_ids_of(user)})
