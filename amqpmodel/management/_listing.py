"""List parameters of the management API (spec 18.7): ``sort``, ``sort_reverse``,
``columns``, and pagination with ``page``, ``page_size``, ``name``, ``use_regex``."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ._http import ApiError, bad_request

__all__ = ["DEFAULT_PAGE_SIZE", "MAX_PAGE_SIZE", "list_response_body", "pick_columns"]

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 500


def _dotted(item: Any, path: str, missing: Any) -> Any:
    value = item
    for key in path.split("."):
        if not isinstance(value, dict):
            return missing
        value = value.get(key, _MISSING)
        if value is _MISSING:
            return missing
    return value


_MISSING = object()


def _rank(value: Any) -> tuple[int, Any]:
    """An order across JSON types as RabbitMQ's (Erlang's term order): numbers, then
    atoms (booleans, null), maps, lists, strings; a missing field sorts as 0."""
    if isinstance(value, bool):
        return (1, str(value).lower())
    if isinstance(value, (int, float)):
        return (0, value)
    if value is None:
        return (1, "null")
    if isinstance(value, dict):
        return (2, len(value))
    if isinstance(value, list):
        return (3, [_rank(v) for v in value])
    return (4, str(value))


def _sorted(
    items: list[dict[str, Any]], query: Mapping[str, str], defaults: list[str]
) -> list[dict[str, Any]]:
    sort = query.get("sort")
    if sort == "" and "sort" in query:
        keys = defaults  # an empty sort: the default order
    elif sort is not None:
        keys = [sort] + [key for key in defaults if key != sort]
    else:
        keys = defaults
    if keys:
        items = sorted(items, key=lambda item: [_rank(_dotted(item, key, 0)) for key in keys])
    if query.get("sort_reverse") == "true":
        items.reverse()
    return items


def pick_columns(value: Any, columns: str | None) -> Any:
    """Keep only the comma-separated, dotted ``columns`` of each object (spec 18.7)."""
    if columns is None:
        return value
    paths = [column.split(".") for column in columns.split(",") if column]
    return _pick(value, paths)


def _pick(value: Any, paths: list[list[str]]) -> Any:
    if isinstance(value, list):
        return [_pick(item, paths) for item in value]
    if not isinstance(value, dict):
        return value
    result: dict[str, Any] = {}
    for key, item in value.items():
        below = [path[1:] for path in paths if path[0] == key]
        if not below:
            continue
        result[key] = item if any(not rest for rest in below) else _pick(item, below)
    return result


def _int_param(query: Mapping[str, str], name: str) -> int | None:
    text = query.get(name)
    if text is None:
        return None
    try:
        return int(text)
    except ValueError:
        raise bad_request("Pagination parameters are invalid") from None


def _matches(item: dict[str, Any], name: str, use_regex: bool) -> bool:
    value = item.get("name")
    if not isinstance(value, str):
        return False
    if use_regex:
        try:
            return re.search(name, value, re.IGNORECASE) is not None
        except re.error:
            raise bad_request(f"invalid regular expression: {name}") from None
    return name.lower() in value.lower()


def list_response_body(
    items: list[dict[str, Any]],
    query: Mapping[str, str],
    default_sort: tuple[str, ...] = ("vhost", "name"),
) -> Any:
    """What a list endpoint answers: sorted, maybe paginated, with the asked columns."""
    page = _int_param(query, "page")
    page_size = _int_param(query, "page_size")
    if page is not None and (
        page < 1 or (page_size is not None and not 1 <= page_size <= MAX_PAGE_SIZE)
    ):
        raise ApiError(
            400,
            "invalid_pagination_parameters",
            f"Invalid pagination parameters: page number {page}, page size "
            f"{page_size if page_size is not None else 'undefined'}",
        )
    ordered = _sorted(items, query, list(default_sort))
    columns = query.get("columns")
    if page is None:
        return pick_columns(ordered, columns)
    size = page_size or DEFAULT_PAGE_SIZE
    name = query.get("name")
    filtered = (
        [item for item in ordered if _matches(item, name, query.get("use_regex") == "true")]
        if name
        else ordered
    )
    offset = (page - 1) * size
    if offset > len(filtered):
        raise ApiError(
            400,
            "page_out_of_range",
            f"Page out of range, page: {page} page size: {size}, len: {len(filtered)}",
        )
    chosen = filtered[offset : offset + size]
    return {
        "total_count": len(items),
        "item_count": len(chosen),
        "filtered_count": len(filtered),
        "page": page,
        "page_size": size,
        "page_count": (len(filtered) + size - 1) // size,
        "items": pick_columns(chosen, columns),
    }
