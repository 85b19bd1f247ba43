"""An export request: its dataset, format and filters, checked against the dataset and scoped to the user.

The API's `ExportParamsSerializer` (`followup.api`) parses the query string into plain values and asks
`filter_errors` what the dataset does not offer; `export_request` then checks the user's role and sites.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.core.exceptions import PermissionDenied

from edc import roles
from edc.models import Subject
from followup.exports.datasets import DATASETS, PKPD_ANALYTES, PKPD_WIDE_KEY_COLUMNS, Column, Dataset

FORMATS = ("csv", "json", "parquet", "xpt")
XPT_PREFIX = "sdtm/"  # SAS transport files are for the SDTM datasets
SHAPES = ("long", "wide")

# Who exports: investigators and data managers get full data, sponsor viewers pseudonymised data.
FULL_EXPORT_ROLES = frozenset({roles.INVESTIGATOR, roles.DATA_MANAGER})
EXPORT_ROLES = FULL_EXPORT_ROLES | {roles.SPONSOR_VIEWER}


class ExportNotFound(Exception):
    """A dataset or a subject that does not exist for this user (HTTP 404 naming the parameter)."""

    def __init__(self, parameter: str, message: str):
        super().__init__(message)
        self.parameter = parameter


@dataclass(frozen=True)
class ExportRequest:
    dataset: Dataset
    format: str = "csv"
    shape: str = "long"
    subjects: tuple[str, ...] = ()
    analytes: tuple[str, ...] = ()
    from_day: float | None = None
    to_day: float | None = None
    pseudonymised: bool = False
    site_ids: tuple[int, ...] | None = None  # None: every site
    trailer: bool = False  # CSV only: a last line with the row count and the SHA-256 of what precedes it
    user: object = field(default=None, compare=False)

    @property
    def columns(self) -> tuple[Column, ...]:
        if self.dataset.name == "pkpd" and self.shape == "wide":
            return (*PKPD_WIDE_KEY_COLUMNS, *(Column(a, "float") for a in self.analytes or PKPD_ANALYTES))
        return self.dataset.columns

    def filters(self) -> dict:
        """The filters as the export log records them."""
        shown = {"subject": list(self.subjects), "analyte": list(self.analytes), "from_day": self.from_day,
                 "to_day": self.to_day, "shape": self.shape if self.dataset.name == "pkpd" else None}  # fmt: skip
        return {name: value for name, value in shown.items() if value not in (None, [])}


def dataset_named(name: str) -> Dataset:
    dataset = DATASETS.get(name.strip("/"))
    if dataset is None:
        raise ExportNotFound("dataset", f"unknown dataset {name!r}; one of {', '.join(DATASETS)}")
    return dataset


def format_error(export_format: str) -> str:
    return f"unknown format {export_format!r}; one of {', '.join(FORMATS)}"


def shape_error(dataset: Dataset, shape: str) -> str:
    return f"shape {shape!r} is not offered for {dataset.name}; pkpd takes long or wide"


def filter_errors(
    dataset: Dataset,
    *,
    shape: str,
    analytes: tuple[str, ...],
    from_day: float | None,
    to_day: float | None,
    export_format: str = "csv",
) -> dict[str, list[str]]:
    """The filters (and format) `dataset` does not offer, by parameter (empty: none)."""
    errors: dict[str, list[str]] = {}
    if export_format == "xpt" and not dataset.name.startswith(XPT_PREFIX):
        errors["format"] = [f"xpt is offered for the {XPT_PREFIX}* datasets only, not {dataset.name}"]
    if shape not in SHAPES or (shape == "wide" and dataset.name != "pkpd"):
        errors["shape"] = [shape_error(dataset, shape)]
    if analytes and not dataset.analytes:
        errors["analyte"] = [f"{dataset.name} has no analyte filter"]
    elif unknown := [a for a in analytes if a not in dataset.analytes]:
        errors["analyte"] = [f"unknown analyte {', '.join(unknown)} for {dataset.name}; one of "
                             f"{', '.join(dataset.analytes)}"]  # fmt: skip
    if (from_day is not None or to_day is not None) and not dataset.day_filter:
        errors["from_day" if from_day is not None else "to_day"] = [f"{dataset.name} has no day filter"]
    elif from_day is not None and to_day is not None and from_day > to_day:
        errors["from_day"] = [f"from_day {from_day:g} is after to_day {to_day:g}"]
    return errors


def export_request(
    dataset: Dataset,
    user,
    *,
    format: str = "csv",
    shape: str = "long",
    subjects: tuple[str, ...] = (),
    analytes: tuple[str, ...] = (),
    from_day: float | None = None,
    to_day: float | None = None,
    trailer: bool = False,
) -> ExportRequest:
    """The request of `user` (None: the command line, every site, full data), from validated filters.

    A role without exports raises PermissionDenied (403); a subject that is not at the user's sites
    ExportNotFound (404).
    """
    if user is not None and not roles.has_any_role(user, EXPORT_ROLES):
        raise PermissionDenied("exports are for investigators, data managers and sponsor viewers")
    site_ids = None if user is None or user.is_superuser else tuple(roles.site_ids_of(user))
    subjects, analytes = tuple(dict.fromkeys(subjects)), tuple(dict.fromkeys(analytes))
    _check_subjects(subjects, site_ids)
    pseudonymised = user is not None and not roles.has_any_role(user, FULL_EXPORT_ROLES)
    return ExportRequest(
        dataset, format, shape, subjects, analytes, from_day, to_day, pseudonymised, site_ids, trailer, user
    )


def _check_subjects(subject_ids: tuple[str, ...], site_ids: tuple[int, ...] | None) -> None:
    if not subject_ids:
        return
    visible = Subject.objects.filter(subject_id__in=subject_ids)
    if site_ids is not None:
        visible = visible.filter(site_id__in=site_ids)
    missing = set(subject_ids) - set(visible.values_list("subject_id", flat=True))
    if missing:
        raise ExportNotFound("subject", f"no subject {', '.join(sorted(missing))} at your sites")
