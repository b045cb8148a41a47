"""Why a list is empty or shorter than asked: the stable codes of a response's ``reason``.

A list that is full has no reason. The codes are documented for clients in
docs/api-guide.md ("Empty and short lists"); add a code there when adding one here.
"""

from __future__ import annotations

NO_HISTORY = "no_history"  # the user has no positive feedback on items the model knows
NO_CONTENT = "no_content"  # a new item without title, text, categories or tags to compare
FILTERED = "filtered"  # filters, exclusions, seen or hidden items left out the rest
NO_MORE_ITEMS = "no_more_items"  # the model (or the item's content) ranks no more items

ALL = (NO_HISTORY, NO_CONTENT, FILTERED, NO_MORE_ITEMS)
