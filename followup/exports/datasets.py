"""The export datasets: their names, their columns (a name and a kind each) and the filters each one offers."""

from __future__ import annotations

from dataclasses import dataclass

from edc import rules as edc_rules

PK_ANALYTES = ("CARPCR", "CARFLOW")
PKPD_ANALYTES = ("CD19", "CARPCR", "CARFLOW", "DSDNA", "C3", "C4", "SLEDAI")
LB_ANALYTES = tuple(code for code in edc_rules.ANALYTE_UNITS if code not in PK_ANALYTES)


@dataclass(frozen=True)
class Column:
    name: str
    kind: str  # "str", "float", "int" or "bool": the writers map it to JSON and Parquet types


def _columns(spec: str) -> tuple[Column, ...]:
    """'name:kind name:kind …' → columns (kind defaults to str)."""
    return tuple(Column(*(item.split(":") if ":" in item else (item, "str"))) for item in spec.split())


@dataclass(frozen=True)
class Dataset:
    name: str
    columns: tuple[Column, ...]
    analytes: tuple[str, ...] = ()  # the analytes the filter may name; empty: no analyte filter
    day_filter: bool = False  # from_day/to_day apply (to the actual day of each sample)


def _sdtm_results(prefix: str, extra: str = "") -> tuple[Column, ...]:
    p = prefix
    return _columns(
        f"STUDYID DOMAIN USUBJID {p}SEQ:int {p}TESTCD {p}TEST {p}ORRES {p}ORRESU {p}STRESN:float {p}STRESU "
        f"{p}NRIND {extra} VISIT VISITNUM:float {p}DTC {p}DY:int"
    )


# A supplemental qualifiers dataset (SUPP--): one non-standard variable of one parent row per row.
SUPP_COLUMNS = _columns("STUDYID RDOMAIN USUBJID IDVAR IDVARVAL QNAM QLABEL QVAL QORIG")
PKPD_LONG_COLUMNS = _columns(
    "usubjid visit visitnum:float nominal_day:int actual_day:float analyte value:float unit lloq:float blq:bool "
    "baseline:float change_from_baseline_pct:float open_queries:int"
)
PKPD_WIDE_KEY_COLUMNS = _columns("usubjid visit visitnum:float nominal_day:int actual_day:float")
DATASETS: dict[str, Dataset] = {
    d.name: d
    for d in (
        Dataset("pkpd", PKPD_LONG_COLUMNS, PKPD_ANALYTES, day_filter=True),
        Dataset(
            "pk-parameters",
            _columns(
                "usubjid analyte CMAX:float TMAX:float AUC0_28:float CLAST:float TLAST:float n_quantifiable:int unit"
            ),
            PK_ANALYTES,
        ),
        Dataset(
            "sdtm/dm",
            _columns("STUDYID DOMAIN USUBJID SUBJID RFSTDTC SITEID BRTHDTC AGE:int AGEU SEX"),
        ),
        Dataset(
            "sdtm/ex",
            _columns("STUDYID DOMAIN USUBJID EXSEQ:int EXTRT EXDOSE:float EXDOSU EXSTDTC EXSTDY:int"),
        ),
        Dataset("sdtm/lb", _sdtm_results("LB"), LB_ANALYTES, day_filter=True),
        Dataset("sdtm/pc", _sdtm_results("PC", "PCLLOQ:float"), PK_ANALYTES, day_filter=True),
        Dataset(
            "sdtm/pp",
            _columns(
                "STUDYID DOMAIN USUBJID PPSEQ:int PPCAT PPTESTCD PPTEST PPORRES PPORRESU PPSTRESN:float PPSTRESU "
                "PPSTINT PPENINT"
            ),
            PK_ANALYTES,
        ),
        Dataset(
            "sdtm/ae",
            _columns(
                "STUDYID DOMAIN USUBJID AESEQ:int AETERM AECAT AESER AEREL AEOUT AETOXGR:int AESTDTC AEENDTC "
                "AESTDY:int AEENDY:int"
            ),
        ),
        Dataset("sdtm/dv", _columns("STUDYID DOMAIN USUBJID DVSEQ:int DVTERM DVDECOD DVCAT DVSCAT DVSTDTC DVSTDY:int")),
        Dataset("sdtm/suppae", SUPP_COLUMNS),
        Dataset(
            "sdtm/cm",
            _columns(
                "STUDYID DOMAIN USUBJID CMSEQ:int CMTRT CMCAT CMINDC CMDOSE:float CMDOSU CMDOSFRQ CMROUTE CMSTDTC "
                "CMENDTC CMSTDY:int CMENDY:int"
            ),
        ),
        Dataset("sdtm/suppcm", SUPP_COLUMNS),
        Dataset(
            "safety",
            _columns(
                "usubjid crs_max_grade:int crs_onset_day:int icans_max_grade:int icans_onset_day:int "
                "icaht_early_grade:int icaht_late_grade:int anc_le_0_5_days:int igg_min:float igg_min_day:int "
                "ivig_given:bool infections:int infections_grade3plus:int pcr_negative_date"
            ),
        ),
    )
}
