"""The lupus outcome plots (matplotlib, Agg backend, no pyplot state): a subject's disease activity over time and
the cohort's swimmer plot. Each SVG is cached under a fingerprint of the data it draws: a page drawn again from the
same data costs no matplotlib time, and any change of the data draws it anew. The words are the reader's language's
(gettext), and the language is part of the cache key: a Chinese reader never gets the English picture."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from django.core.cache import cache
from django.utils.translation import get_language, gettext
from django.utils.translation import gettext_lazy as _
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from followup.plots import _svg
from followup.rules.outcomes import AssessmentOutcome, as_number, best_state

CACHE_SECONDS = 24 * 3600
STATE_COLOURS = {"TF_DORIS": "#1b5e20", "DORIS": "#43a047", "LLDAS": "#a5d6a7", "NONE": "#eeeeee"}
STATE_LABELS = {"TF_DORIS": _("treatment-free DORIS"), "DORIS": _("DORIS remission"), "LLDAS": "LLDAS",
                "NONE": _("none of them (or not judged)")}  # fmt: skip
FLARE_MARKERS = {"MILD_MODERATE": ("^", "#ef6c00", _("mild/moderate flare")),
                 "SEVERE": ("*", "#c62828", _("severe flare"))}  # fmt: skip


def cached_svg(kind: str, data, draw) -> str:
    """`draw(data)`'s SVG, cached under the active language and a fingerprint of `kind` and `data` (a repr-stable
    structure)."""
    key = f"outcome-svg:{kind}:{get_language()}:{hashlib.sha256(repr(data).encode()).hexdigest()}"
    svg = cache.get(key)
    if svg is None:
        svg = draw(data)
        cache.set(key, svg, CACHE_SECONDS)
    return svg


def disease_activity_svg(outcomes: Sequence[AssessmentOutcome]) -> str:
    """SELENA-SLEDAI and PGA over days from infusion, the prednisone dose, and the remission states as a band."""
    days = [o.day if o.day is not None else (o.facts.assessment_date - outcomes[0].facts.assessment_date).days
            for o in outcomes]  # fmt: skip
    dose = [as_number(o.prednisone.value) for o in outcomes]
    data = tuple(
        (day, o.facts.total, None if o.facts.pga is None else float(o.facts.pga),
         None if d is None else float(d), best_state(o), o.flare.value)
        for day, o, d in zip(days, outcomes, dose, strict=True)
    )  # fmt: skip
    return cached_svg("activity", (outcomes[0].day is not None, data), _draw_activity)


def _draw_activity(key) -> str:
    from_infusion, data = key
    figure = Figure(figsize=(8, 5))
    score, steroid, band = figure.subplots(3, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1.4, 0.5]})
    days = [row[0] for row in data]
    score.plot(days, [row[1] for row in data], marker="o", color="#283593", label="SELENA-SLEDAI")
    score.set_ylabel("SELENA-SLEDAI", fontsize=8)
    pga = score.twinx()
    pga_points = [(row[0], row[2]) for row in data if row[2] is not None]
    if pga_points:
        pga.plot(*zip(*pga_points, strict=True), marker="s", markersize=3, color="#8e24aa", linestyle="--", label="PGA")
    pga.set_ylim(0, 3)
    pga.set_ylabel("PGA (0–3)", fontsize=8)
    for level, (marker, colour, label) in FLARE_MARKERS.items():
        flares = [(row[0], row[1]) for row in data if row[5] == level]
        if flares:
            score.scatter(*zip(*flares, strict=True), marker=marker, s=120, color=colour, zorder=5, label=str(label))
    handles = score.get_legend_handles_labels()[0] + pga.get_legend_handles_labels()[0]
    score.legend(handles=handles, fontsize=7, loc="upper right")
    doses = [(row[0], row[3]) for row in data if row[3] is not None]
    if doses:
        steroid.step(*zip(*doses, strict=True), where="post", color="#6d4c41")
    steroid.set_ylabel(gettext("prednisone\n(mg/day)"), fontsize=8)
    _state_band(band, [(row[0], row[4]) for row in data])
    band.set_yticks([])
    band.legend(handles=[Patch(color=STATE_COLOURS[s], label=str(STATE_LABELS[s])) for s in STATE_COLOURS], fontsize=6,
                loc="upper center", bbox_to_anchor=(0.5, -1.8), ncol=4)  # fmt: skip
    for axes in (score, steroid, band):
        if from_infusion:
            axes.axvline(0, color="#888", linewidth=0.8)
    band.set_xlabel(gettext("days from infusion") if from_infusion else gettext("days from the first assessment"))
    score.set_title(gettext("Disease activity"))
    return _svg(figure)


LAST_STATE_DAYS = 7  # the last assessment's state is drawn a week wide: nothing says how long it holds


def _state_band(axes, states: list[tuple[int, str]]) -> None:
    """Each assessment's state, from it to the next assessment."""
    ends = [day for day, _ in states[1:]] + [states[-1][0] + LAST_STATE_DAYS]
    for (start, state), end in zip(states, ends, strict=True):
        axes.axvspan(start, end, color=STATE_COLOURS[state], linewidth=0)


GRADE_COLOURS = {1: "#fdd835", 2: "#fb8c00", 3: "#e53935", 4: "#8e24aa", 5: "#212121"}
LANE_HEIGHT = 0.8


def swimmer_svg(lanes) -> str:
    """One lane per treated subject from infusion: the remission states as its background, B-cell aplasia as a bar
    under it, CRS and ICANS episodes coloured by grade, infections, flares and PCR negativity as marks."""
    data = tuple(
        (lane.subject_id, lane.last_day, tuple(lane.episodes), lane.aplasia, lane.pcr_negative_day,
         tuple(lane.states), tuple(lane.flares))
        for lane in lanes
    )  # fmt: skip
    return cached_svg("swimmer", data, _draw_swimmer)


def _draw_swimmer(data) -> str:
    figure = Figure(figsize=(10, 1.2 + 0.42 * max(len(data), 1)))
    axes = figure.subplots()
    for row, lane in enumerate(reversed(data)):
        _lane(axes, row, *lane[1:])
    axes.set_yticks(range(len(data)), [lane[0] for lane in reversed(data)], fontsize=7)
    axes.set_xlabel(gettext("days from infusion"))
    axes.set_xlim(left=0)
    axes.set_title(gettext("Swimmer plot: {count} treated subject(s)").format(count=len(data)))
    axes.legend(handles=_swimmer_legend(), fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False)
    return _svg(figure)


def _lane(axes, row, last_day, episodes, aplasia, negative_day, states, flares) -> None:
    y = row - LANE_HEIGHT / 2
    axes.broken_barh([(0, last_day)], (y, LANE_HEIGHT), color=STATE_COLOURS["NONE"])
    ends = [day for day, _ in states[1:]] + [last_day]
    for (start, state), end in zip(states, ends, strict=False):  # no assessment yet: no state
        if state != "NONE":
            axes.broken_barh([(start, max(end - start, 1))], (y, LANE_HEIGHT), color=STATE_COLOURS[state])
    if aplasia is not None:
        onset, back = aplasia
        axes.broken_barh([(onset, (back or last_day) - onset)], (y, 0.14), color="#1565c0")
    for category, grade, onset, end in episodes:
        if category == "INFECTION":
            axes.scatter([onset], [row], marker="P", s=40, color=GRADE_COLOURS.get(grade, "#757575"),
                         edgecolors="#000", linewidths=0.4, zorder=4)  # fmt: skip
        else:
            hatch = "////" if category == "ICANS" else None
            colour = GRADE_COLOURS.get(grade, "#757575")
            axes.broken_barh([(onset, max((end or onset + 1) - onset, 1))], (row + 0.1, 0.3), facecolor=colour,
                             hatch=hatch, edgecolor="#333", zorder=3)  # fmt: skip
    for day, level in flares:
        marker, colour, _ = FLARE_MARKERS[level]
        axes.scatter([day], [row], marker=marker, s=90, color=colour, edgecolors="#000", linewidths=0.4, zorder=5)
    if negative_day is not None:
        axes.scatter([negative_day], [row], marker="v", s=50, color="#000", zorder=5)


def _swimmer_legend() -> list:
    from matplotlib.lines import Line2D

    handles = [Patch(color=STATE_COLOURS[s], label=str(STATE_LABELS[s])) for s in STATE_COLOURS]
    handles += [Patch(color="#1565c0", label=gettext("B-cell aplasia"))]
    handles += [Patch(facecolor=GRADE_COLOURS[g], edgecolor="#333", label=gettext("CRS grade {grade}").format(grade=g))
                for g in (1, 2, 3, 4)]  # fmt: skip
    handles += [Patch(facecolor="#fff", edgecolor="#333", hatch="////", label=gettext("ICANS (hatched, by grade)"))]
    handles += [Line2D([], [], marker="P", linestyle="", color="#fb8c00", label=gettext("infection (colour: grade)"))]
    handles += [Line2D([], [], marker=m, linestyle="", color=c, label=str(label))
                for m, c, label in FLARE_MARKERS.values()]  # fmt: skip
    handles += [Line2D([], [], marker="v", linestyle="", color="#000", label=gettext("PCR negativity confirmed"))]
    return handles
