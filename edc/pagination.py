"""Pagination of every list (its own module: DRF imports it while edc.api is still loading).

Every list is paged by number (`?page=`, with the total `count`). The lists that grow with the trial (lab results,
visits, data queries) can also be read by keyset: `?cursor=` (empty) starts at the first row and each page's `next`
carries on from the last row read, in id order, so reading a whole list costs the same per page at any size and no
page counts the rows. A row saved during the walk has a higher id than every row read, so it is read at the end
and no row is read twice or skipped.
"""

from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import CursorPagination, PageNumberPagination

PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000


class Pagination(PageNumberPagination):
    page_size = PAGE_SIZE
    page_size_query_param = "page_size"
    max_page_size = MAX_PAGE_SIZE


class KeysetPagination(CursorPagination):
    """The rows after the cursor's id: `WHERE id > last ORDER BY id LIMIT size + 1`, on the primary key's index."""

    ordering = ("id",)  # unique and never changed, unlike a sample time two results may share
    page_size = PAGE_SIZE
    page_size_query_param = "page_size"
    max_page_size = MAX_PAGE_SIZE
    cursor_query_description = "Read by keyset: empty for the first page, then the cursor in the previous `next`."

    def get_ordering(self, request, queryset, view):
        return self.ordering  # a client's `ordering` would make the cursor ambiguous: the walk is always by id

    def decode_cursor(self, request):
        if request.query_params.get(self.cursor_query_param) == "":
            return None  # the first page
        try:
            cursor = super().decode_cursor(request)
        except NotFound:  # DRF answers an unreadable cursor with 404, as if the list did not exist
            raise _bad_cursor() from None
        if cursor.position is not None and not cursor.position.isdigit():
            raise _bad_cursor()  # a forged position would reach the database as an id
        return cursor


def _bad_cursor() -> ValidationError:
    return ValidationError({"cursor": ["invalid cursor: send it empty to start, then the one in the `next` link"]})


class LargeListPagination(Pagination):
    """Page numbers by default; `?cursor=` switches to keyset paging (`next`, `previous`, `results`, no `count`)."""

    cursor_query_param = KeysetPagination.cursor_query_param

    def paginate_queryset(self, queryset, request, view=None):
        self.keyset = None
        if self.cursor_query_param in request.query_params:
            if self.page_query_param in request.query_params:
                raise ValidationError({self.page_query_param: ["send either page or cursor, not both"]})
            self.keyset = KeysetPagination()
            return self.keyset.paginate_queryset(queryset, request, view)
        return super().paginate_queryset(queryset, request, view)

    def get_paginated_response(self, data):
        if self.keyset is not None:
            return self.keyset.get_paginated_response(data)
        return super().get_paginated_response(data)

    def get_paginated_response_schema(self, schema):
        paged = super().get_paginated_response_schema(schema)
        paged["required"] = ["results"]
        paged["properties"]["count"]["description"] = "every matching row; by page number only (not with `cursor`)"
        for link in ("next", "previous"):
            paged["properties"][link]["description"] = "the page's neighbour, by page number or by cursor"
        return paged

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        cursor = next(
            p for p in KeysetPagination().get_schema_operation_parameters(view) if p["name"] == self.cursor_query_param
        )
        return [*parameters, cursor]
