"""The subject page's follow-up grid in the words of the CRF: tests by their names, numbers as typed."""

import re

import pytest

from followup import admin as followup_admin
from tests import casebook, factories

pytestmark = pytest.mark.django_db


def grid_html(rf, staff, subject) -> str:
    request = rf.get("/")
    request.user = staff
    return followup_admin.follow_up_panel(request, subject)


def test_the_grid_names_each_test_and_shows_numbers_as_typed(rf, site, staff):
    subject = casebook.followed_casebook(factories.make_subject(site, staff), staff, 14)
    grid = grid_html(rf, staff, subject)
    headers = re.findall(r"<th>([^<]*)</th>", grid)
    assert headers[4:] == ["CD19+ B cells", "CAR transgene (qPCR)", "CAR+ T cells (flow)", "anti-dsDNA", "C3", "C4",
                           "SLEDAI"]  # fmt: skip
    cells = re.findall(r"<td>([^<]*)</td>", grid)
    assert "1500" in cells and "0.4" in cells and "1.1" in cells  # CARPCR, CD19, C3 as the casebook typed them
    assert not [cell for cell in cells if re.fullmatch(r"\d+\.\d*0", cell)], cells  # no trailing zeros
    assert not re.search(r"\d \w{3} \d{4}", grid)  # planned dates as ISO, like the done dates beside them
