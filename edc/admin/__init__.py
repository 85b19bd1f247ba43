"""The site staff's screens. Every save goes through `edc.services`, like the API.

- `base`: the extension points later apps fill from their `hooks` module, the page policy (`AdminPagesMixin`:
  role, then site, as the API), and the CRF admin and inline every app's screens are built from.
- `subjects`: sites, subjects (with the registered inlines and panels), visits (with the registered visit
  pages) and lab results.
- `data_management`: data queries, signatures, source verification and locks.
- `deviations`: the protocol deviation log, its proposals on the home page and its subject-page panel.
- `home`: the home page (the admin index with each role's work lists) and the kernel's work lists.
"""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from edc.admin import data_management, deviations, home, security, subjects  # noqa: F401 - registers the kernel's admins and home page
from edc.admin.base import (
    AdminPagesMixin,
    CrfAdmin,
    CrfInline,
    ScopedAdminMixin,
    ScopedHistoryAdmin,
    WorkItem,
    WorkList,
    add_errors,
    change_url,
    register_home_link,
    register_subject_inlines,
    register_subject_page,
    register_subject_panel,
    register_visit_page,
    register_work_list,
    signature_lines,
    site_zone,
    visit_page_url,
)

__all__ = [
    "AdminPagesMixin",
    "CrfAdmin",
    "CrfInline",
    "ScopedAdminMixin",
    "ScopedHistoryAdmin",
    "change_url",
    "register_home_link",
    "register_subject_inlines",
    "register_subject_page",
    "register_subject_panel",
    "register_visit_page",
    "register_work_list",
    "add_errors",
    "signature_lines",
    "site_zone",
    "visit_page_url",
    "WorkItem",
    "WorkList",
]

admin.site.site_header = "Meta10-19 EDC"
admin.site.site_title = "Meta10-19 EDC"
admin.site.index_title = _("NCT06711146 data capture")
admin.site.site_url = None  # no "View site" link: the admin is the site (the API has no pages to view)
