"""Named SQL queries kept in `.sql` files next to the domain that owns the tables.

A file holds blocks that each start with a header line `-- name: some_query`; parameters are
PostgreSQL's `$1, $2, …`. `load_queries(__file__)` in a domain gives `queries.some_query`.
"""

from __future__ import annotations

import re
from pathlib import Path

_HEADER = re.compile(r"^--\s*name:\s*([a-z_][a-z0-9_]*)\s*$", re.MULTILINE)


class Queries:
    def __init__(self, blocks: dict[str, str]) -> None:
        self._blocks = blocks

    def __getattr__(self, name: str) -> str:
        try:
            return self._blocks[name]
        except KeyError:
            raise AttributeError(f"no query named {name!r}") from None

    def names(self) -> list[str]:
        return sorted(self._blocks)


def parse_queries(text: str) -> dict[str, str]:
    parts = _HEADER.split(text)
    blocks: dict[str, str] = {}
    for name, body in zip(parts[1::2], parts[2::2], strict=True):
        if name in blocks:
            raise ValueError(f"query {name!r} is defined twice")
        blocks[name] = body.strip().rstrip(";")
    return blocks


def load_queries(module_file: str, filename: str = "queries.sql") -> Queries:
    """Load the named queries of the `.sql` file beside `module_file`."""
    path = Path(module_file).with_name(filename)
    return Queries(parse_queries(path.read_text(encoding="utf-8")))
