"""What a list request asks for beyond the scenario: paging, filters, diversity, pins, explain."""

from __future__ import annotations

from dataclasses import dataclass

from recserve.serving.filters import Node


@dataclass(frozen=True)
class ListOptions:
    """The request path's knobs; the defaults give a plain top-n."""

    n: int = 10
    offset: int = 0
    exclude_seen: bool = True  # leave out what the user gave positive or negative feedback on
    category: str | None = None
    filter: Node | None = None  # a parsed filter expression (``filters.parse_filter``)
    include: tuple[str, ...] = ()  # allow list: only these items
    exclude: tuple[str, ...] = ()  # deny list
    diversity: float = 0.0  # 0: relevance only .. 1: as varied as possible
    pins: tuple[tuple[str, int], ...] = ()  # (item_id, 1-based position)
    explain: bool = False
    fields: tuple[str, ...] = ()  # stored item fields to add to each entry (read by the API)

    @property
    def depth(self) -> int:
        """How many ranked items the page needs before business rules: offset + n."""
        return self.offset + self.n

    @property
    def filtered(self) -> bool:
        return bool(self.category or self.filter is not None or self.include or self.exclude)
