"""The infection fields of an adverse event (DOMAIN.md §6): their codes and which event may carry them.

Pure: no ORM, no request, no clock.
"""

from __future__ import annotations

from edc.rules import N_, Label, Message

INFECTION = "INFECTION"
VIRAL = "VIRAL"
PATHOGEN_CLASSES = ("BACTERIAL", VIRAL, "FUNGAL", "OTHER", "UNKNOWN")
INFECTION_SITES = (
    "BLOODSTREAM", "RESPIRATORY_UPPER", "RESPIRATORY_LOWER", "URINARY", "GASTROINTESTINAL", "SKIN_SOFT_TISSUE",
    "CNS", "OTHER",
)  # fmt: skip
PATHOGEN_CLASS_LABELS: dict[str, Label] = {
    "BACTERIAL": N_("Bacterial"), VIRAL: N_("Viral"), "FUNGAL": N_("Fungal"), "OTHER": N_("Other"),
    "UNKNOWN": N_("Unknown"),
}  # fmt: skip
INFECTION_SITE_LABELS: dict[str, Label] = {
    "BLOODSTREAM": N_("Bloodstream"), "RESPIRATORY_UPPER": N_("Upper respiratory"),
    "RESPIRATORY_LOWER": N_("Lower respiratory"), "URINARY": N_("Urinary"), "GASTROINTESTINAL": N_("Gastrointestinal"),
    "SKIN_SOFT_TISSUE": N_("Skin and soft tissue"), "CNS": N_("CNS"), "OTHER": N_("Other"),
}  # fmt: skip
VIRAL_REACTIVATIONS = ("HBV", "CMV", "EBV", "VZV")
INFECTION_FIELDS = ("pathogen_class", "organism", "infection_site", "opportunistic", "viral_reactivation")


def _given(value) -> bool:
    return value not in (None, "")


def check_infection_fields(category: str, values: dict) -> dict[str, str]:
    """Errors by field: the infection fields belong to infections only, a viral reactivation to a virus only."""
    if category != INFECTION:
        return {
            name: Message(
                "only an INFECTION event has {field}; this event's category is {category}",
                field=name.replace("_", " "),
                category=category,
            )
            for name in INFECTION_FIELDS
            if _given(values.get(name))
        }
    reactivation, pathogen = values.get("viral_reactivation"), values.get("pathogen_class")
    if _given(reactivation) and pathogen != VIRAL:
        return {
            "viral_reactivation": Message(
                "a viral reactivation ({reactivation}) needs pathogen class VIRAL, not {pathogen}",
                reactivation=reactivation,
                pathogen=pathogen or "none",
            )
        }
    return {}


def treatment_errors(indication: str, event_category: str) -> dict[str, str]:
    """A medication treats an adverse event only when given for it: indication CRS, ICANS or INFECTION, the
    event's own category (DOMAIN.md §6)."""
    if indication not in ("CRS", "ICANS", INFECTION):
        shown = indication or "none"
        return {
            "medication": Message(
                "only a medication given for CRS, ICANS or an infection treats an adverse event; "
                "this one's indication is {indication}",
                indication=shown,
            )
        }
    if indication != event_category:
        return {
            "adverse_event": Message(
                "a medication given for {indication} treats a {indication} event, not {category}",
                indication=indication,
                category=event_category,
            )
        }
    return {}
