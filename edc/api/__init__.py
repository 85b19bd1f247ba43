"""REST for the kernel, and the base classes every CRF endpoint of the other apps is built from.

- `base`: the policy (`ScopedViewSetMixin`, `RolePermission`, `CrfViewSet`, `CrfSerializer`, `ScopedRelatedField`,
  the exception handler and the JSON 404), and the token routes (issue, revoke).
- `subjects`: sites, subjects, visits, lab results.
- `data_management`: queries, signatures, source verification, locks, the study audit trail.
- `deviations`: the protocol deviation log (with the confirmation or dismissal of a proposal).
"""

from edc.api.base import (
    CrfSerializer,
    CrfViewSet,
    RolePermission,
    ScopedRelatedField,
    ScopedViewSetMixin,
    TokenRevokeView,
    TokenView,
    crf_fields,
    exception_handler,
    not_found,
)
from edc.api.data_management import (
    AuditTrailViewSet,
    DataQueryViewSet,
    LockViewSet,
    SignatureViewSet,
    SourceVerificationViewSet,
)
from edc.api.deviations import DeviationViewSet
from edc.api.subjects import LabResultSerializer, LabResultViewSet, SiteViewSet, SubjectViewSet, VisitViewSet

__all__ = [
    "CrfSerializer",
    "CrfViewSet",
    "LabResultSerializer",
    "ROUTES",
    "RolePermission",
    "ScopedRelatedField",
    "ScopedViewSetMixin",
    "TokenRevokeView",
    "TokenView",
    "crf_fields",
    "exception_handler",
    "not_found",
]

ROUTES = [
    ("sites", SiteViewSet),
    ("subjects", SubjectViewSet),
    ("visits", VisitViewSet),
    ("lab-results", LabResultViewSet),
    ("queries", DataQueryViewSet),
    ("signatures", SignatureViewSet),
    ("source-verifications", SourceVerificationViewSet),
    ("locks", LockViewSet),
    ("deviations", DeviationViewSet),
    ("audit-trail", AuditTrailViewSet),
]
