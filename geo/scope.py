"""The one grid-scope rule: is a grid code inside a user's (or a filter's) grid?

Grid codes form a tree written into the codes themselves (``geo.codes``): a street office has 9 digits, its
communities 12 that start with the office's 9, their grids 15 that start with the community's 12. So "in the
subtree of ``scope``" is "starts with ``scope``": a grid is within itself, its community and its office, and
within no sibling. ``scope`` None is the whole territory, which holds everything, including what has no grid
(``code`` None); a scoped user never sees what has no grid.

Every Python test of "in this subtree" calls :func:`within`; the one SQL one (``alerts.repository``'s recent
alerts) is the same prefix test in SQL, ``column.startswith(scope, autoescape=True)``.
"""
from __future__ import annotations


def within(code: str | None, scope: str | None) -> bool:
    """Whether ``code`` lies in the subtree of ``scope`` (None: the whole territory).

    >>> within("410105001001003", "410105001")
    True
    >>> within("410105001002001", "410105001001")
    False
    >>> within(None, None), within(None, "410105001")
    (True, False)
    """
    if scope is None:
        return True
    return code is not None and code.startswith(scope)
