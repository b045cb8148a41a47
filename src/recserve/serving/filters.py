"""Filter expressions on item fields, parsed by hand (never ``eval``) into a small tree.

Grammar::

    expr       := and_expr ("or" and_expr)*
    and_expr   := not_expr ("and" not_expr)*
    not_expr   := "not" not_expr | "(" expr ")" | comparison
    comparison := NAME OP value | NAME "in" "(" value ("," value)* ")"
    OP         := == | != | < | <= | > | >=
    value      := NUMBER | 'text' | "text" | true | false

``NAME`` is an item attribute, or one of the fields ``categories``, ``tags`` and
``published_at``. A list-valued field equals a value when it contains it. An item without
the field fails every comparison (``!=`` included); ``not`` turns that around.
The tree is evaluated on the catalogue's columns as numpy masks, so a filter costs a few
array operations however many items there are.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from recserve.serving.catalogue import ItemCatalogue

MAX_LENGTH = 2000
MAX_NODES = 200

Scalar = str | float | bool


class FilterError(ValueError):
    """The filter expression does not parse; the message says where and why."""


@dataclass(frozen=True)
class Comparison:
    name: str
    op: str
    values: tuple[Scalar, ...]


@dataclass(frozen=True)
class Not:
    operand: Node


@dataclass(frozen=True)
class BoolOp:
    op: str  # "and" | "or"
    operands: tuple[Node, ...]


Node = Comparison | Not | BoolOp

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<number>-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)
      | (?P<string>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
      | (?P<op>==|!=|<=|>=|<|>)
      | (?P<punct>[(),])
      | (?P<name>[A-Za-z_][A-Za-z0-9_.\-]*)
    )""",
    re.VERBOSE,
)
_KEYWORDS = {"and", "or", "not", "in", "true", "false"}


def _tokens(text: str) -> list[tuple[str, str, int]]:
    tokens, position = [], 0
    while position < len(text):
        if text[position:].strip() == "":
            break
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise FilterError(
                f"unexpected character {text[position:].lstrip()[:1]!r} at {position}"
            )
        kind = match.lastgroup
        assert kind is not None
        value, start = match.group(kind), match.start(kind)
        if kind == "name" and value.lower() in _KEYWORDS:
            kind, value = "keyword", value.lower()
        tokens.append((kind, value, start))
        position = match.end()
    return tokens


class _Parser:
    def __init__(self, text: str):
        self.tokens = _tokens(text)
        self.position = 0
        self.nodes = 0

    def peek(self) -> tuple[str, str, int] | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def take(self) -> tuple[str, str, int]:
        token = self.peek()
        if token is None:
            raise FilterError("the expression ends too early")
        self.position += 1
        return token

    def expect(self, kind: str, value: str) -> None:
        token = self.take()
        if token[:2] != (kind, value):
            raise FilterError(f"expected {value!r} at {token[2]}, found {token[1]!r}")

    def at(self, kind: str, value: str) -> bool:
        token = self.peek()
        return token is not None and token[:2] == (kind, value)

    def count(self) -> None:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise FilterError(f"the expression has more than {MAX_NODES} parts")

    def expr(self) -> Node:
        operands = [self.and_expr()]
        while self.at("keyword", "or"):
            self.take()
            operands.append(self.and_expr())
        return operands[0] if len(operands) == 1 else BoolOp("or", tuple(operands))

    def and_expr(self) -> Node:
        operands = [self.not_expr()]
        while self.at("keyword", "and"):
            self.take()
            operands.append(self.not_expr())
        return operands[0] if len(operands) == 1 else BoolOp("and", tuple(operands))

    def not_expr(self) -> Node:
        self.count()
        if self.at("keyword", "not"):
            self.take()
            return Not(self.not_expr())
        if self.at("punct", "("):
            self.take()
            node = self.expr()
            self.expect("punct", ")")
            return node
        return self.comparison()

    def comparison(self) -> Node:
        kind, name, where = self.take()
        if kind != "name":
            raise FilterError(f"expected a field name at {where}, found {name!r}")
        kind, op, where = self.take()
        if (kind, op) == ("keyword", "in"):
            self.expect("punct", "(")
            values = [self.value()]
            while self.at("punct", ","):
                self.take()
                values.append(self.value())
            self.expect("punct", ")")
            return Comparison(name, "in", tuple(values))
        if kind != "op":
            raise FilterError(f"expected a comparison after {name!r} at {where}, found {op!r}")
        value = self.value()
        if op in ("<", "<=", ">", ">=") and (
            isinstance(value, bool) or not isinstance(value, float)
        ):
            raise FilterError(f"{op} compares numbers: {name} {op} {value!r}")
        return Comparison(name, op, (value,))

    def value(self) -> Scalar:
        kind, text, where = self.take()
        if kind == "number":
            return float(text)
        if kind == "string":
            return re.sub(r"\\(.)", r"\1", text[1:-1])
        if kind == "keyword" and text in ("true", "false"):
            return text == "true"
        raise FilterError(f"expected a value at {where}, found {text!r}")


def parse_filter(text: str) -> Node:
    """The expression's tree; raises ``FilterError`` for anything outside the grammar."""
    if len(text) > MAX_LENGTH:
        raise FilterError(f"the expression is longer than {MAX_LENGTH} characters")
    parser = _Parser(text)
    if not parser.tokens:
        raise FilterError("the expression is empty")
    node = parser.expr()
    rest = parser.peek()
    if rest is not None:
        raise FilterError(f"unexpected {rest[1]!r} at {rest[2]}")
    return node


_ORDER = {
    "<": np.less,
    "<=": np.less_equal,
    ">": np.greater,
    ">=": np.greater_equal,
}


def evaluate(node: Node, catalogue: ItemCatalogue) -> np.ndarray:
    """A boolean mask over the catalogue's items: True where the item passes."""
    if isinstance(node, BoolOp):
        masks = [evaluate(child, catalogue) for child in node.operands]
        reduce = np.logical_and if node.op == "and" else np.logical_or
        return reduce.reduce(masks)
    if isinstance(node, Not):
        return ~evaluate(node.operand, catalogue)
    column = catalogue.column(node.name)
    if node.op in _ORDER:
        with np.errstate(invalid="ignore"):
            return _ORDER[node.op](column.numeric, node.values[0])
    mask = column.members(node.values)
    if node.op == "!=":
        return column.present & ~mask
    return mask
