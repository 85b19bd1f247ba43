"""The submission package: every SDTM dataset as an XPT v5 file, define.xml describing them, the further files of
`PACKAGE_FILES`, and a README.txt with each file's row count and SHA-256 — to a directory or a zip file.

Each dataset is exported as the routes export it (`start_export`: the user's scope and pseudonymisation, logged in
ExportLog), in format xpt; the package itself is logged once more (dataset "submission", format "zip" or "dir",
the rows of every file). Values over XPT's 200 bytes are split into their domain's SUPP-- file (`followup.exports
.xpt`): the parent domains are written first, and a domain with split values and no SUPP-- dataset of its own
gets one (SUPPDV, say), which define.xml describes like the others.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from django.utils import timezone

from edc.rules import N_
from followup import odm
from followup.exports import sdtm_metadata, start_export
from followup.exports.datasets import SUPP_COLUMNS
from followup.exports.define import define_xml
from followup.exports.params import export_request
from followup.exports.sources import STUDY_ID
from followup.exports.xpt import XptFile, variables_of, write_xpt
from followup.models import ExportLog


@dataclass
class PackageFile:
    name: str
    description: str
    rows: int | None  # None: not a dataset
    size: int = 0
    sha256: str = ""


@dataclass
class Package:
    """What a package is built from and what it holds so far (the writers of PACKAGE_FILES read it)."""

    directory: Path
    user: object  # None: the command line (every site, full data)
    channel: str
    created: dt.datetime
    xpt_files: list[XptFile] = field(default_factory=list)
    files: list[PackageFile] = field(default_factory=list)


def _write_define(package: Package, path: Path) -> None:
    path.write_bytes(define_xml(package.xpt_files, created=package.created))


def _write_odm(package: Package, path: Path) -> int:
    """The casebook of the package's sites as ODM 1.3.2, with its audit trail and signatures; returns its subjects."""
    with path.open("wb") as output:
        return odm.write_odm(output, odm.odm_request(package.user), channel=package.channel)


# The package's files after the XPTs, in order: (file name, what it is for, its writer). A writer gets the package
# (its user, channel and XPT files) and the path to write; it returns nothing, or the number of records written.
# What a file is for is a label: the package's README.txt says it in English, the submission page in the reader's.
PACKAGE_FILES: tuple[tuple[str, str, Callable[[Package, Path], int | None]], ...] = (
    ("define.xml", N_("Define-XML 2.1: the datasets, their variables, keys, origins and code lists"), _write_define),
    ("casebook.odm.xml", N_("CDISC ODM 1.3.2: the casebook with its audit trail and signatures"), _write_odm),
)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def _add(package: Package, path: Path, description: str, rows: int | None) -> None:
    package.files.append(PackageFile(path.name, description, rows, path.stat().st_size, _sha256(path)))


def _parents_first(datasets):
    return sorted(datasets, key=lambda d: sdtm_metadata.parent_of(sdtm_metadata.domain_of(d)) is not None)


def _write_xpts(package: Package, progress) -> None:
    overflow: dict[str, list[tuple]] = {}  # parent domain → the SUPP-- rows of its split values
    for dataset in _parents_first(sdtm_metadata.sdtm_datasets()):
        domain = sdtm_metadata.domain_of(dataset)
        request = export_request(dataset, package.user, format="xpt")
        export = start_export(request, channel=package.channel)
        extra = overflow.pop(sdtm_metadata.parent_of(domain) or "", [])
        rows = (*export.rows, *extra) if extra else export.rows
        _write_dataset(package, domain, dataset.columns, rows, overflow)
        progress.update(1)
    for parent, rows in overflow.items():  # split values of a domain without a SUPP-- dataset
        _write_dataset(package, f"SUPP{parent}", SUPP_COLUMNS, rows, {})


def _write_dataset(package: Package, domain: str, columns, rows, overflow: dict[str, list[tuple]]) -> None:
    label = sdtm_metadata.dataset_label(domain)
    path = package.directory / f"{domain.lower()}.xpt"
    variables = variables_of(domain, columns, sdtm_metadata.variable_label)
    xpt = write_xpt(domain, label, variables, rows, path, split=True)
    if xpt.overflow:
        overflow.setdefault(domain, []).extend(xpt.overflow)
    package.xpt_files.append(xpt)
    _add(package, path, f"SDTM {domain}: {label} (SAS transport v5)", xpt.rows)


def _readme(package: Package) -> str:
    who = getattr(package.user, "username", None) or "the command line (every site, full data)"
    lines = [
        f"Submission package of {STUDY_ID} (SDTM IG {sdtm_metadata.SDTMIG_VERSION}, SAS XPT version 5, Define-XML 2.1)",
        f"Created {timezone.localtime(package.created).isoformat(timespec='seconds')} by {who}.",
        "",
        f"{'file':<14} {'rows':>8} {'bytes':>10}  {'sha256':<64}  what",
    ]
    for f in package.files:
        rows = "" if f.rows is None else str(f.rows)
        lines.append(f"{f.name:<14} {rows:>8} {f.size:>10}  {f.sha256}  {f.description}")
    lines += ["", "Check a file: sha256sum -c against the column above (sha256sum FILE prints the same digest).",
              "Dates and times are ISO 8601 text in site time with their UTC offset; --DY counts the day of "
              "infusion as day 1."]  # fmt: skip
    lines += _notes(package.xpt_files)
    return "\r\n".join(lines) + "\r\n"


def _notes(xpt_files: list[XptFile]) -> list[str]:
    """What a reviewer should know of the text: characters written as "?", values split into SUPP--."""
    notes = []
    for xpt in xpt_files:
        for variable, characters in xpt.replaced.items():
            shown = ", ".join(f"U+{ord(c):04X} x{n}" for c, n in characters.most_common())
            notes.append(f"{xpt.domain}.{variable}: {sum(characters.values())} characters without an ASCII form "
                         f"written as '?' ({shown})")  # fmt: skip
        if xpt.overflow:
            names = ", ".join(sorted({row[5] for row in xpt.overflow}))
            notes.append(f"{xpt.domain}: {len(xpt.overflow)} pieces of values over 200 bytes are in "
                         f"SUPP{xpt.domain} (QNAM {names}), as SDTM IG 4.5.3.2 has it")  # fmt: skip
    return ["", "Notes:", *(f"- {note}" for note in notes)] if notes else []


def build(directory: Path, *, user=None, channel: str = "command", progress=None, logged_as: str = "dir") -> Package:
    """Write the package's files into `directory` (which must exist) and log it (format `logged_as`); `progress`
    (a tqdm bar, say) is advanced once per file."""
    progress = progress or _NoProgress()
    package = Package(directory, user, channel, timezone.now())
    log = ExportLog.objects.create(user=user, started_at=package.created, dataset="submission", format=logged_as,
                                   channel=channel)  # fmt: skip
    _write_xpts(package, progress)
    for name, description, writer in PACKAGE_FILES:
        rows = writer(package, directory / name)
        _add(package, directory / name, description, rows)
        progress.update(1)
    (directory / "README.txt").write_text(_readme(package), encoding="ascii", newline="")
    progress.update(1)
    replaced = {f"{x.domain}.{v}": n for x in package.xpt_files for v, n in x.replaced_counts.items()}
    ExportLog.objects.filter(pk=log.pk).update(
        row_count=sum(f.rows or 0 for f in package.files), finished_at=timezone.now(),
        filters={"non_ascii_replaced": replaced} if replaced else {},
    )  # fmt: skip
    return package


def file_count() -> int:
    """The files a package holds (without a SUPP-- made for split values): the progress bar's total."""
    return len(sdtm_metadata.sdtm_datasets()) + len(PACKAGE_FILES) + 1


def build_zip(zip_path: Path, **options) -> Package:
    """The package as one zip file (its files at the top level), logged with format "zip"."""
    with tempfile.TemporaryDirectory(prefix="submission-") as scratch:
        package = build(Path(scratch), logged_as="zip", **options)
        with zipfile.ZipFile(zip_path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for path in sorted(Path(scratch).iterdir()):
                archive.write(path, path.name)
    return package


def build_into(output: Path, **options) -> Package:
    """`output` ending in .zip: a zip file; otherwise a directory (created if missing; files in it replaced)."""
    if output.suffix.lower() == ".zip":
        return build_zip(output, **options)
    output.mkdir(parents=True, exist_ok=True)
    return build(output, **options)


class _NoProgress:
    def update(self, n: int = 1) -> None:
        pass
