"""What the SDTM datasets are, for the XPT files and define.xml: the one table of dataset and variable labels (SDTM
IG 3.4 wording) beside the column definitions of `followup.exports.datasets`, each dataset's class, structure and
keys, each variable's origin, and the code lists of the coded variables.

Generic over every `sdtm/*` dataset of `DATASETS`: a new domain needs its label, class and structure in
`DOMAINS` and the labels of its new variables in `VARIABLE_LABELS` (a test fails until they are there). A
supplemental qualifiers dataset (SUPP--) needs nothing: it is described from its parent domain.
"""

from __future__ import annotations

from dataclasses import dataclass

from edc.models import Deviation, Subject
from followup.exports.datasets import DATASETS, LB_ANALYTES, PK_ANALYTES, Column, Dataset
from followup.exports.sdtm import AEOUT_TERMS, CMROUTE_TERMS, PP_TESTS
from followup.models import AdverseEvent
from screening.models import Medication

SDTMIG_VERSION = "3.4"


@dataclass(frozen=True)
class Domain:
    label: str  # ≤ 40 characters: the XPT dataset label
    sdtm_class: str  # the define.xml def:Class names of the SDTM model
    structure: str


DOMAINS = {
    "DM": Domain("Demographics", "SPECIAL PURPOSE", "One record per subject"),
    "EX": Domain("Exposure", "INTERVENTIONS", "One record per constant dosing interval per subject"),
    "CM": Domain("Concomitant/Concurrent Medications", "INTERVENTIONS", "One record per recorded medication per "
                 "subject"),
    "AE": Domain("Adverse Events", "EVENTS", "One record per adverse event per subject"),
    "DV": Domain("Protocol Deviations", "EVENTS", "One record per protocol deviation per subject"),
    "LB": Domain("Laboratory Test Results", "FINDINGS", "One record per lab test per time point per visit per "
                 "subject"),
    "PC": Domain("Pharmacokinetics Concentrations", "FINDINGS", "One record per sample characteristic or time-point "
                 "concentration per reference time point or per analyte per subject"),
    "PP": Domain("Pharmacokinetics Parameters", "FINDINGS", "One record per PK parameter per time-concentration "
                 "profile per modeling method per subject"),
    "RS": Domain("Disease Response and Clin Classification", "FINDINGS", "One record per response assessment per "
                 "visit per subject"),
    "QS": Domain("Questionnaires", "FINDINGS", "One record per questionnaire per question per visit per subject"),
}  # fmt: skip
SUPP_STRUCTURE = "One record per IDVAR, IDVARVAL, and QNAM value per subject"

# Variable labels (≤ 40 characters, as the SDTM IG writes them); `--` stands for the domain prefix.
VARIABLE_LABELS = {
    "STUDYID": "Study Identifier",
    "DOMAIN": "Domain Abbreviation",
    "RDOMAIN": "Related Domain Abbreviation",
    "USUBJID": "Unique Subject Identifier",
    "SUBJID": "Subject Identifier for the Study",
    "RFSTDTC": "Subject Reference Start Date/Time",
    "SITEID": "Study Site Identifier",
    "BRTHDTC": "Date/Time of Birth",
    "AGE": "Age",
    "AGEU": "Age Units",
    "SEX": "Sex",
    "--SEQ": "Sequence Number",
    "VISIT": "Visit Name",
    "VISITNUM": "Visit Number",
    "IDVAR": "Identifying Variable",
    "IDVARVAL": "Identifying Variable Value",
    "QNAM": "Qualifier Variable Name",
    "QLABEL": "Qualifier Variable Label",
    "QVAL": "Data Value",
    "QORIG": "Origin",
    "EXTRT": "Name of Treatment",
    "EXDOSE": "Dose",
    "EXDOSU": "Dose Units",
    "EXSTDTC": "Start Date/Time of Treatment",
    "EXSTDY": "Study Day of Start of Treatment",
    "CMTRT": "Reported Name of Drug, Med, or Therapy",
    "CMCAT": "Category for Medication",
    "CMINDC": "Indication",
    "CMDOSE": "Dose per Administration",
    "CMDOSU": "Dose Units",
    "CMDOSFRQ": "Dosing Frequency per Interval",
    "CMROUTE": "Route of Administration",
    "CMSTDTC": "Start Date/Time of Medication",
    "CMENDTC": "End Date/Time of Medication",
    "CMSTDY": "Study Day of Start of Medication",
    "CMENDY": "Study Day of End of Medication",
    "AETERM": "Reported Term for the Adverse Event",
    "AECAT": "Category for Adverse Event",
    "AESER": "Serious Event",
    "AEREL": "Causality",
    "AEOUT": "Outcome of Adverse Event",
    "AETOXGR": "Standard Toxicity Grade",
    "AESTDTC": "Start Date/Time of Adverse Event",
    "AEENDTC": "End Date/Time of Adverse Event",
    "AESTDY": "Study Day of Start of Adverse Event",
    "AEENDY": "Study Day of End of Adverse Event",
    "DVTERM": "Protocol Deviation Term",
    "DVDECOD": "Protocol Deviation Coded Term",
    "DVCAT": "Category for Protocol Deviation",
    "DVSCAT": "Subcategory for Protocol Deviation",
    "DVSTDTC": "Start Date/Time of Deviation",
    "DVSTDY": "Study Day of Start of Deviation",
    "LBTESTCD": "Lab Test or Examination Short Name",
    "LBTEST": "Lab Test or Examination Name",
    "PCTESTCD": "Pharmacokinetic Test Short Name",
    "PCTEST": "Pharmacokinetic Test Name",
    "PCLLOQ": "Lower Limit of Quantitation",
    "PPCAT": "Parameter Category",
    "PPTESTCD": "Parameter Short Name",
    "PPTEST": "Parameter Name",
    "PPSTINT": "Planned Start of Assessment Interval",
    "PPENINT": "Planned End of Assessment Interval",
    "RSTESTCD": "Assessment Short Name",
    "RSTEST": "Assessment Name",
    "RSCAT": "Category for Assessment",
    "QSCAT": "Category of Question",
    "QSTESTCD": "Question Short Name",
    "QSTEST": "Question Name",
    "--ORRES": "Result or Finding in Original Units",
    "--ORRESU": "Original Units",
    "--STRESN": "Numeric Result/Finding in Standard Units",
    "--STRESU": "Standard Units",
    "--STRESC": "Character Result/Finding in Std Format",
    "--STAT": "Completion Status",
    "--REASND": "Reason Not Done",
    "--NRIND": "Reference Range Indicator",
    "--DTC": "Date/Time of Specimen Collection",
    "--DY": "Study Day of Specimen Collection",
}
# Variables holding a date without a time in every row (define.xml DataType "date"; other --DTC are "datetime").
DATE_ONLY = frozenset({"BRTHDTC", "AESTDTC", "AEENDTC", "CMSTDTC", "CMENDTC", "DVSTDTC"})
# Where a value comes from (define.xml def:Origin): assigned by the sponsor, derived by this system, or collected
# on the CRF (by default) or from the central lab (LB, PC).
ASSIGNED = frozenset({"STUDYID", "DOMAIN", "RDOMAIN", "IDVAR", "QNAM", "QLABEL", "QORIG", "AGEU"})
DERIVED_SUFFIXES = ("SEQ", "DY", "STDY", "ENDY", "STRESN", "STRESU", "NRIND", "TEST")
DERIVED = frozenset({"USUBJID", "AGE", "VISITNUM", "IDVARVAL", "EXDOSU", "CMDOSU", "CMDOSFRQ", "DVCAT", "AETOXGR"})
VENDOR_DOMAINS = frozenset({"LB", "PC"})


def domain_of(dataset: Dataset) -> str:
    """`sdtm/suppae` → "SUPPAE": the XPT dataset name and define.xml's ItemGroupDef Name."""
    return dataset.name.removeprefix("sdtm/").upper()


def sdtm_datasets() -> list[Dataset]:
    return [d for name, d in DATASETS.items() if name.startswith("sdtm/")]


def parent_of(domain: str) -> str | None:
    """The parent domain of a SUPP-- dataset (`SUPPAE` → "AE"); None for a parent domain."""
    return domain.removeprefix("SUPP") if domain.startswith("SUPP") else None


def dataset_label(domain: str) -> str:
    parent = parent_of(domain)
    if parent is not None:
        return f"Supplemental Qualifiers for {parent}"
    return DOMAINS[domain].label


def dataset_class(domain: str) -> str:
    return "RELATIONSHIP" if parent_of(domain) else DOMAINS[domain].sdtm_class


def dataset_structure(domain: str) -> str:
    return SUPP_STRUCTURE if parent_of(domain) else DOMAINS[domain].structure


def variable_label(domain: str, name: str) -> str:
    """The variable's SDTM IG label: its own entry, else its generic `--` entry (the prefix is the domain)."""
    if name in VARIABLE_LABELS:
        return VARIABLE_LABELS[name]
    generic = "--" + name.removeprefix(domain)
    if name.startswith(domain) and generic in VARIABLE_LABELS:
        return VARIABLE_LABELS[generic]
    raise KeyError(f"no SDTM label for {domain}.{name}: add it to followup.exports.sdtm_metadata.VARIABLE_LABELS")


def keys_of(domain: str, columns: tuple[Column, ...]) -> tuple[str, ...]:
    """The variables that identify a record: the subject and its --SEQ (a SUPP--: its parent record and QNAM)."""
    if parent_of(domain):
        return ("STUDYID", "RDOMAIN", "USUBJID", "IDVAR", "IDVARVAL", "QNAM")
    names = {c.name for c in columns}
    return ("STUDYID", "USUBJID", *((f"{domain}SEQ",) if f"{domain}SEQ" in names else ()))


def origin_of(domain: str, name: str) -> tuple[str, str | None]:
    """(def:Origin Type, Source) of a variable."""
    if name in ASSIGNED:
        return "Assigned", "Sponsor"
    if domain == "PP" or name in DERIVED or name.removeprefix(domain).endswith(DERIVED_SUFFIXES):
        return "Derived", "Sponsor"
    return "Collected", "Vendor" if domain in VENDOR_DOMAINS else "Investigator"


@dataclass(frozen=True)
class CodeList:
    name: str
    terms: tuple[tuple[str, str | None], ...]  # (coded value, its decode; None: the code says it all)
    nci_code: str | None = None  # the CDISC/NCI code list (C-code), where the terms are CDISC's


def _codes(*codes: str) -> tuple[tuple[str, None], ...]:
    return tuple((code, None) for code in codes)


def _choices(choices) -> tuple[tuple[str, str], ...]:
    return tuple((code, str(label)) for code, label in choices)


def code_lists() -> dict[str, CodeList]:
    """The code list of each coded variable, by variable name (a SUPP--'s QVAL is not coded: its values vary)."""
    return {
        "SEX": CodeList("Sex", _choices(Subject.Sex.choices), "C66731"),
        "AGEU": CodeList("Age Unit", _codes("YEARS"), "C66781"),
        "AESER": CodeList("No Yes Response", _codes("N", "Y"), "C66742"),
        "AEOUT": CodeList("Outcome of Event", _codes(*AEOUT_TERMS.values()), "C66768"),
        "AECAT": CodeList("Adverse Event Category", _codes(*AdverseEvent.Category.values)),
        "AEREL": CodeList("Causality", _codes(*AdverseEvent.Relatedness.values)),
        "CMROUTE": CodeList("Route of Administration Response", _codes(*CMROUTE_TERMS.values()), "C66729"),
        "CMCAT": CodeList("Medication Category", _choices(Medication.Category.choices)),
        "DVDECOD": CodeList("Protocol Deviation Coded Term", _choices(Deviation.Category.choices)),
        "DVSCAT": CodeList("Protocol Deviation Severity", _choices(Deviation.Severity.choices)),
        "LBNRIND": CodeList("Reference Range Indicator", _codes("LOW", "NORMAL", "HIGH"), "C78736"),
        "LBTESTCD": CodeList("Laboratory Test Code", _codes(*LB_ANALYTES)),
        "PCTESTCD": CodeList("Pharmacokinetic Test Code", _codes(*PK_ANALYTES)),
        "PPTESTCD": CodeList("PK Parameter Code", tuple((code, test) for code, (test, *_) in PP_TESTS.items())),
    }
