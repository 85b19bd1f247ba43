"""The user's roles and sites, read together once per request (edc.roles)."""

from django.contrib.auth.models import Group
from django.utils.functional import SimpleLazyObject

from edc import roles
from tests import factories


def test_roles_and_sites_are_read_in_one_query_and_kept(make_user, site, other_site, count_queries):
    user = make_user(roles.MONITOR, site, other_site)
    user.groups.add(Group.objects.get(name=roles.DATA_MANAGER))
    queries, found = count_queries(lambda: (roles.roles_of(user), roles.site_ids_of(user)))
    assert queries == 1
    assert found == (frozenset({roles.MONITOR, roles.DATA_MANAGER}), sorted([site.pk, other_site.pk]))
    assert count_queries(lambda: (roles.roles_of(user), roles.site_ids_of(user)))[0] == 0


def test_a_user_without_sites_or_without_roles_has_none_of_them(make_user, site, db):
    no_sites = make_user(roles.SITE_STAFF)
    assert (roles.roles_of(no_sites), roles.site_ids_of(no_sites)) == (frozenset({roles.SITE_STAFF}), [])
    no_roles = factories.UserFactory()
    site.users.add(no_roles)
    assert (roles.roles_of(no_roles), roles.site_ids_of(no_roles)) == (frozenset(), [site.pk])


def test_the_request_user_behind_a_lazy_object_is_read_as_well(make_user, site):
    user = make_user(roles.INVESTIGATOR, site)
    lazy = SimpleLazyObject(lambda: user)
    assert (roles.roles_of(lazy), roles.site_ids_of(lazy)) == (frozenset({roles.INVESTIGATOR}), [site.pk])
