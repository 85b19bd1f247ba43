"""Server-side SVG plots of the investigator pages (matplotlib, Agg backend, no pyplot global state).

Titles, axis labels and legends are in the reader's language (gettext, the active language): a plot's cache key
holds that language. Chinese needs a CJK font: "Noto Sans CJK SC" (Debian's fonts-noto-cjk) is the fallback of
DejaVu Sans when it is installed (README, "Languages"); without it, DejaVu alone (Chinese glyphs missing).
"""

from __future__ import annotations

import io
from collections.abc import Iterable

from django.utils.translation import gettext
from matplotlib import colormaps, font_manager, rcParams
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from followup.exports import SubjectProfile
from followup.exports.sources import STUDY_ID

APLASIA_COLOUR = "#f3d9d9"
CJK_FONT = "Noto Sans CJK SC"


def _use_cjk_fallback() -> None:
    """DejaVu Sans first (the Latin glyphs as before), then the CJK font for the glyphs it lacks. Only named when
    installed: matplotlib warns on every text of a family it cannot find."""
    if any(font.name == CJK_FONT for font in font_manager.fontManager.ttflist):
        rcParams["font.family"] = ["DejaVu Sans", CJK_FONT]


_use_cjk_fallback()


def _svg(figure: Figure) -> str:
    FigureCanvasAgg(figure)
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight")
    text = buffer.getvalue()
    return text[text.index("<svg") :]  # inline: without the XML prologue and doctype


def _shade_aplasia(axes, profile: SubjectProfile, last_day: float) -> None:
    onset = profile.cd19.aplasia_onset_day
    if onset is not None:
        end = profile.cd19.reconstitution_day or last_day
        axes.axvspan(onset, end, color=APLASIA_COLOUR, label=gettext("B-cell aplasia"), zorder=0)


def subject_svg(profile: SubjectProfile) -> str:
    """CAR transgene (log axis), CD19 B cells, C3/C4 and anti-dsDNA against days from infusion."""
    figure = Figure(figsize=(8, 9))
    panels = figure.subplots(4, 1, sharex=True)
    days = [day for points in profile.series.values() for day, _ in points] or [0.0]
    last_day = max(days)
    layout = [
        (panels[0], ("CARPCR",), gettext("CAR transgene (copies/µg)"), True),
        (panels[1], ("CD19",), gettext("CD19+ B cells (cells/µL)"), False),
        (panels[2], ("C3", "C4"), "C3 / C4 (g/L)", False),
        (panels[3], ("DSDNA",), gettext("anti-dsDNA (IU/mL)"), False),
    ]
    for axes, analytes, label, log in layout:
        _shade_aplasia(axes, profile, last_day)
        for analyte in analytes:
            points = [(d, v) for d, v in profile.series[analyte] if not (log and v <= 0)]
            if points:
                axes.plot(*zip(*points, strict=True), marker="o", markersize=3, label=analyte)
        if log and profile.series["CARPCR"]:
            axes.set_yscale("log")
        axes.set_ylabel(label, fontsize=8)
        axes.axvline(0, color="#888", linewidth=0.8)
        if axes.get_legend_handles_labels()[0]:  # a subject without data yet has nothing to label
            axes.legend(fontsize=7, loc="upper right")
    panels[0].set_title(gettext("{usubjid}: PK/PD after infusion").format(usubjid=profile.usubjid))
    panels[-1].set_xlabel(gettext("days from infusion"))
    return _svg(figure)


# Up to this many subjects each line is told apart (20 colours × 2 line styles) and named in the legend; beyond, the
# lines are coloured by site and the legend names the sites.
LEGEND_LIMIT = 40


def _site_of(usubjid: str) -> str:
    return usubjid.split("-")[1]  # NCT06711146-<site>-<nnn>


def cohort_svg(profiles: Iterable[tuple[str, list[tuple[float, float]]]]) -> str:
    """Every subject's CAR transgene over days from infusion, on one log axis, each line named in the legend by
    the subject's USUBJID (the pseudonymised id of the exports: site-number after the study id), or by site for a
    cohort past `LEGEND_LIMIT`."""
    profiles = list(profiles)
    figure = Figure(figsize=(10, 5))
    axes = figure.subplots()
    palette = colormaps["tab20"].colors
    by_site = len(profiles) > LEGEND_LIMIT
    sites = sorted({_site_of(usubjid) for usubjid, _ in profiles})
    labelled = set()
    for n, (usubjid, points) in enumerate(profiles):
        if by_site:
            site = _site_of(usubjid)
            colour, style = palette[sites.index(site) % len(palette)], "-"
            label = gettext("site {site}").format(site=site) if site not in labelled else "_nolegend_"
            labelled.add(site)
        else:
            colour, style = palette[n % len(palette)], ("-", "--")[n // len(palette) % 2]
            label = usubjid.removeprefix(f"{STUDY_ID}-")  # the legend's title says the study id once
        axes.plot(*zip(*points, strict=True), linewidth=0.9, alpha=0.8, color=colour, linestyle=style, label=label)
    if profiles:
        axes.set_yscale("log")
        columns = 1 if by_site or len(profiles) <= 20 else 2
        axes.legend(fontsize=6, ncol=columns, loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False,
                    title=gettext("site") if by_site else f"USUBJID {STUDY_ID}-…", title_fontsize=7)  # fmt: skip
    axes.set_xlabel(gettext("time after infusion (days)"))
    axes.set_ylabel(gettext("CAR transgene by qPCR (copies/µg)"))
    axes.set_title(gettext("Cohort overlay: CAR transgene, {count} subject(s)").format(count=len(profiles)))
    return _svg(figure)
