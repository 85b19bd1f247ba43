"""The casebook as CDISC ODM 1.3.2: study metadata, admin data, the sites, and every subject's clinical data with
its audit trail and signatures (issue #17).

    metadata  the forms, items, code lists, units and events (the OIDs), the users, locations and signature meanings
    clinical  the clinical data: each row as the transactions of its history, with audit records and signatures
    importer  the file back into an empty database (`import_odm`)

`odm_request` checks who asks (investigators and data managers; a subject at their sites), `start_odm_export`
logs the export and returns its chunks; the `exports/odm/` route and the `export_odm` command stream them, and
`write_odm(output, scope)` writes a whole file for a caller of its own (the submission package).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone, translation
from lxml import etree

from edc import roles
from followup.exports.params import ExportNotFound
from followup.models import ExportLog
from followup.odm.clinical import ClinicalWriter, Scope, subject_batches
from followup.odm.metadata import NS, admin_data_element, reference_data_element, study_element, tag

__all__ = [
    "CONTENT_TYPE", "ODM_ROLES", "OdmExport", "OdmRequest", "Scope", "odm_chunks", "odm_request", "start_odm_export",
    "write_odm",
]  # fmt: skip

# The casebook names patients (dates of birth, initials, free text) and the staff in its audit trail: sponsor
# viewers, who get pseudonymised exports only, have the SDTM exports instead.
ODM_ROLES = frozenset({roles.INVESTIGATOR, roles.DATA_MANAGER})
CONTENT_TYPE = "application/xml"
SOURCE_SYSTEM = "EDC NCT06711146"


@dataclass(frozen=True)
class OdmRequest:
    scope: Scope
    user: object = None  # None: the command line


def odm_request(user, subject_id: str = "") -> OdmRequest:
    """The casebook `user` may have (None: the command line, every site); a subject not at their sites raises
    ExportNotFound, a role without it PermissionDenied."""
    if user is not None and not roles.has_any_role(user, ODM_ROLES):
        raise PermissionDenied("the ODM casebook is for investigators and data managers")
    site_ids = None if user is None or user.is_superuser else tuple(roles.site_ids_of(user))
    scope = Scope(site_ids, subject_id)
    if subject_id and not scope.subjects().exists():
        raise ExportNotFound("subject", f"no subject {subject_id} at your sites")
    return OdmRequest(scope, user)


@dataclass
class OdmExport:
    log: ExportLog
    chunks: Iterator[bytes]


def start_odm_export(request: OdmRequest, *, channel: str = "api", progress=None) -> OdmExport:
    """Log the export and return its chunks; the log gets the subject count (`row_count`) once the last subject
    is written. `progress` (a tqdm bar, say) is updated once per subject."""
    filters = {"subject": [request.scope.subject_id]} if request.scope.subject_id else {}
    log = ExportLog.objects.create(user=request.user, started_at=timezone.now(), dataset="odm", format="xml",
                                   filters=filters, channel=channel)  # fmt: skip
    return OdmExport(log, _logged(request.scope, log, _Counter(progress)))


def _logged(scope: Scope, log: ExportLog, counter: _Counter) -> Iterator[bytes]:
    # One read transaction: a consistent casebook however long it streams.
    with transaction.atomic(), closing(odm_chunks(scope, counter)) as chunks:
        yield from chunks
    ExportLog.objects.filter(pk=log.pk).update(row_count=counter.subjects, finished_at=timezone.now())


class _Counter:
    def __init__(self, progress=None):
        self.subjects = 0
        self.progress = progress

    def add(self) -> None:
        self.subjects += 1
        if self.progress is not None:
            self.progress.update(1)


class _Sink:
    """What lxml writes, kept until drained: each subject leaves as soon as it is written."""

    def __init__(self):
        self.chunks: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.chunks.append(bytes(data))

    def drain(self) -> bytes:
        data = b"".join(self.chunks)
        self.chunks.clear()
        return data


def odm_chunks(scope: Scope, counter: _Counter | None = None) -> Iterator[bytes]:
    """The ODM file in chunks of bytes: the metadata and admin data first, then one chunk per subject."""
    counter = counter or _Counter()
    users = list(get_user_model().objects.order_by("username"))
    usernames = {user.pk: user.username for user in users}
    sites = list(scope.sites())
    now = timezone.localtime()
    sink = _Sink()
    with etree.xmlfile(sink, encoding="utf-8") as xml:
        xml.write_declaration()
        granularity = "SingleSubject" if scope.subject_id else "All"
        root = {"FileType": "Transactional", "FileOID": f"EDC.{now:%Y%m%dT%H%M%S}", "Granularity": granularity,
                "CreationDateTime": now.isoformat(), "ODMVersion": "1.3.2", "SourceSystem": SOURCE_SYSTEM}  # fmt: skip
        with xml.element(tag("ODM"), root, nsmap={None: NS}):
            _write_study(xml, sink)
            xml.write(admin_data_element(sites, users, now.date().isoformat()))
            xml.write(reference_data_element(sites))
            writer = ClinicalWriter(usernames)
            with xml.element(tag("ClinicalData"), writer.clinical_data_attributes()):
                xml.flush()
                yield sink.drain()
                for batch in subject_batches(scope):
                    for subject_data in writer.subject_elements(batch):
                        xml.write(subject_data)
                        xml.flush()
                        counter.add()
                        yield sink.drain()
    yield sink.drain()


# The Study element as written, by language: it is made from the models alone (forms, items, code lists, units,
# events) and its texts are their verbose names and choice labels, so it changes only with the active language.
_STUDY_XML: dict[str, bytes] = {}


def _write_study(xml, sink: _Sink) -> None:
    """The Study element, built and serialized on the first export in each language, then written as it was."""
    xml.flush()
    language = translation.get_language()
    if language in _STUDY_XML:
        sink.write(_STUDY_XML[language])
        return
    written_before = len(sink.chunks)
    xml.write(study_element())
    xml.flush()
    _STUDY_XML[language] = b"".join(sink.chunks[written_before:])


def write_odm(output, request: OdmRequest, *, channel: str = "command", progress=None) -> int:
    """Write the casebook to `output` (a binary file), logged; returns the number of subjects written."""
    export = start_odm_export(request, channel=channel, progress=progress)
    for chunk in export.chunks:
        output.write(chunk)
    export.log.refresh_from_db()
    return export.log.row_count or 0
