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
    if getattr(user, "_edc_roles", None) is None:
        _load_roles_and_sites(user)
    return user._edc_roles


def has_any_role(user, roles) -> bool:
    if user and user.is_authenticated and user.is_superuser:
        return True
    return bool(roles_of(user) & set(roles))


def may_request(user, method: str, read_roles, write_roles) -> bool:
    """The role check of every API view and admin page: reads need a read role, writes a write role."""
    return has_any_role(user, read_roles if method in READ_METHODS else write_roles)


def site_ids_of(user) -> list[int]:
    if getattr(user, "_edc_site_ids", None) is None:
        _load_roles_and_sites(user)
    return user._edc_site_ids


def _load_roles_and_sites(user) -> None:
    """The user's groups and sites in one query, kept on the user for the request: every API request needs both
    (the role check, then the site scope). One row per (group, site) pair; None where the user has neither."""
    pairs = user._meta.default_manager.filter(pk=user.pk).values_list("groups__name", "edc_sites__pk")
    names, site_ids = set(), set()
    for name, site_id in pairs:
        names.add(name)
        site_ids.add(site_id)
    user._edc_roles = frozenset(names - {None})
    user._edc_site_ids = sorted(site_ids - {None})


def scope(queryset: QuerySet, user) -> QuerySet:
    """Rows of the user's sites only; superusers see every site."""
    if user.is_superuser:
        return queryset
    return queryset.filter(**{f"{queryset.model.site_lookup}__in": site_ids_of(user)})
