"""model: parses BGPPeer nodeSelector/peerSelector text into a Selector that matches node labels.

Sources hand the model raw strings such as `rack == "r1" && has(node-role.kubernetes.io/edge)`;
the plan stage asks `selector.matches(node.labels)` to decide which peerings a node takes part
in. This module is the whole of Calico's label-selector language as birdgen understands it:

    all()   has(k)   k == "v"   k != "v"   k in {"a", "b"}   k not in {"a", "b"}
    k contains "s"   k starts with "s"   k ends with "s"   !x   x && y   x || y   (x)

`&&` binds tighter than `||`; `!` negates the one factor after it. Strings take single or
double quotes and have no escapes: a string ends at the next matching quote, as in Calico.
The negative operators (`!=`, `not in`) are true when the label is absent; the positive ones
are false. An empty selector means "not set" in Calico, and callers decide what that means
before parsing, so `parse_selector("")` is an error rather than a silent `all()`.

A tokenizer feeds a recursive-descent parser, which builds a small tree of frozen dataclasses.
Each node can match labels and print itself; printing gives canonical text (single spaces,
double quotes where possible, only the parentheses the grammar needs) that parses back to an
equivalent selector. No I/O here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TypeAlias

__all__ = [
    "All",
    "And",
    "Contains",
    "EndsWith",
    "Equals",
    "Expr",
    "Has",
    "In",
    "Not",
    "NotEquals",
    "NotIn",
    "Or",
    "Selector",
    "SelectorError",
    "StartsWith",
    "parse_selector",
]

# A Kubernetes-style label key, optionally with a DNS prefix: `rack`, `kubernetes.io/hostname`.
KEY_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_./-]*")
_KEY_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_./-")

# Selectors come from cluster resources; bound the nesting so a hostile or broken one gives a
# SelectorError rather than a RecursionError deep in the parser.
MAX_DEPTH = 100


class SelectorError(ValueError):
    """A selector's text is not valid; the message says what was expected and where."""

    def __init__(self, selector: str, reason: str, position: int | None = None) -> None:
        self.selector = selector
        self.reason = reason
        self.position = position  # 0-based offset into `selector`; None when it has no place
        where = "" if position is None else f" at position {position}"
        super().__init__(f'selector "{selector}": {reason}{where}')


def _quote(value: str) -> str:
    # Without escapes a string cannot hold its own quote, so pick the quote it does not contain.
    if '"' not in value:
        return f'"{value}"'
    if "'" not in value:
        return f"'{value}'"
    raise ValueError(f"{value!r} contains both quote characters and cannot be written")


# --- The tree ------------------------------------------------------------------------------


@dataclass(frozen=True)
class All:
    def matches(self, labels: Mapping[str, str]) -> bool:
        return True

    def __str__(self) -> str:
        return "all()"


@dataclass(frozen=True)
class Has:
    key: str

    def matches(self, labels: Mapping[str, str]) -> bool:
        return self.key in labels

    def __str__(self) -> str:
        return f"has({self.key})"


@dataclass(frozen=True)
class Equals:
    key: str
    value: str

    def matches(self, labels: Mapping[str, str]) -> bool:
        return labels.get(self.key) == self.value

    def __str__(self) -> str:
        return f"{self.key} == {_quote(self.value)}"


@dataclass(frozen=True)
class NotEquals:
    key: str
    value: str

    def matches(self, labels: Mapping[str, str]) -> bool:
        return labels.get(self.key) != self.value  # an absent label is "not equal"

    def __str__(self) -> str:
        return f"{self.key} != {_quote(self.value)}"


def _set_text(values: frozenset[str]) -> str:
    return "{" + ", ".join(_quote(v) for v in sorted(values)) + "}"


@dataclass(frozen=True)
class In:
    key: str
    values: frozenset[str]

    def matches(self, labels: Mapping[str, str]) -> bool:
        value = labels.get(self.key)
        return value is not None and value in self.values

    def __str__(self) -> str:
        return f"{self.key} in {_set_text(self.values)}"


@dataclass(frozen=True)
class NotIn:
    key: str
    values: frozenset[str]

    def matches(self, labels: Mapping[str, str]) -> bool:
        value = labels.get(self.key)
        return value is None or value not in self.values  # an absent label is "not in"

    def __str__(self) -> str:
        return f"{self.key} not in {_set_text(self.values)}"


@dataclass(frozen=True)
class Contains:
    key: str
    value: str

    def matches(self, labels: Mapping[str, str]) -> bool:
        label = labels.get(self.key)
        return label is not None and self.value in label

    def __str__(self) -> str:
        return f"{self.key} contains {_quote(self.value)}"


@dataclass(frozen=True)
class StartsWith:
    key: str
    value: str

    def matches(self, labels: Mapping[str, str]) -> bool:
        label = labels.get(self.key)
        return label is not None and label.startswith(self.value)

    def __str__(self) -> str:
        return f"{self.key} starts with {_quote(self.value)}"


@dataclass(frozen=True)
class EndsWith:
    key: str
    value: str

    def matches(self, labels: Mapping[str, str]) -> bool:
        label = labels.get(self.key)
        return label is not None and label.endswith(self.value)

    def __str__(self) -> str:
        return f"{self.key} ends with {_quote(self.value)}"


@dataclass(frozen=True)
class Not:
    operand: Expr

    def matches(self, labels: Mapping[str, str]) -> bool:
        return not self.operand.matches(labels)

    def __str__(self) -> str:
        # `!a == "1"` would parse the same, but reads as `(!a) == "1"`; bracket all but the
        # operands that already look like one unit.
        if isinstance(self.operand, All | Has | Not):
            return f"!{self.operand}"
        return f"!({self.operand})"


@dataclass(frozen=True)
class And:
    operands: tuple[Expr, ...]  # two or more; the parser flattens `a && (b && c)`

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(o.matches(labels) for o in self.operands)

    def __str__(self) -> str:
        return " && ".join(f"({o})" if isinstance(o, Or) else str(o) for o in self.operands)


@dataclass(frozen=True)
class Or:
    operands: tuple[Expr, ...]  # two or more; the parser flattens `a || (b || c)`

    def matches(self, labels: Mapping[str, str]) -> bool:
        return any(o.matches(labels) for o in self.operands)

    def __str__(self) -> str:
        return " || ".join(str(o) for o in self.operands)  # || binds loosest: no brackets


Expr: TypeAlias = (
    All | Has | Equals | NotEquals | In | NotIn | Contains | StartsWith | EndsWith | Not | And | Or
)


@dataclass(frozen=True)
class Selector:
    """A parsed selector; `source` is the text as written, `str()` the canonical text."""

    source: str
    expr: Expr = field(compare=False, repr=False)  # follows from `source`

    def matches(self, labels: Mapping[str, str]) -> bool:
        return self.expr.matches(labels)

    def __str__(self) -> str:
        return str(self.expr)


# --- Tokens --------------------------------------------------------------------------------

# Token kinds: "word" (a key or keyword; which one depends on where it stands, so a label may
# be called `in` or `all`), "string", "end", "other" (a character no token starts with, left
# for the parser to report in context), and the punctuation below, longest first.
_PUNCTUATION = ("==", "!=", "&&", "||", "!", "(", ")", "{", "}", ",")


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str  # for a string, its contents without the quotes
    position: int

    def describe(self) -> str:
        """The token as `fail` names it (never the end, which it leaves unnamed)."""
        if self.kind == "string":
            return f"the string {_quote(self.text)}"  # one read from text never holds both quotes
        return f'"{self.text}"'


def _tokenize(source: str) -> list[_Token]:
    tokens: list[_Token] = []
    i, n = 0, len(source)
    while i < n:
        ch = source[i]
        if ch.isspace():
            i += 1
        elif ch in "\"'":
            close = source.find(ch, i + 1)
            if close < 0:
                raise SelectorError(source, "unterminated string", i)
            tokens.append(_Token("string", source[i + 1 : close], i))
            i = close + 1
        elif ch in _KEY_CHARS:
            start = i
            while i < n and source[i] in _KEY_CHARS:
                i += 1
            tokens.append(_Token("word", source[start:i], start))
        else:
            punct = next((p for p in _PUNCTUATION if source.startswith(p, i)), None)
            tokens.append(_Token(punct or "other", punct or ch, i))
            i += len(punct) if punct else 1
    tokens.append(_Token("end", "", n))
    return tokens


# --- Parser --------------------------------------------------------------------------------

_VALUE_OPERATORS = "==, !=, in, not in, contains, starts with or ends with"


class _Parser:
    def __init__(self, source: str) -> None:
        self.source = source
        self.tokens = _tokenize(source)
        self.index = 0
        self.depth = 0

    def peek(self, ahead: int = 0) -> _Token:
        return self.tokens[min(self.index + ahead, len(self.tokens) - 1)]

    def advance(self) -> _Token:
        token = self.peek()
        self.index += 1
        return token

    def at(self, kind: str, text: str | None = None) -> bool:
        token = self.peek()
        return token.kind == kind and (text is None or token.text == text)

    def fail(self, expected: str) -> SelectorError:
        token = self.peek()
        found = "" if token.kind == "end" else f", found {token.describe()}"
        return SelectorError(self.source, f"expected {expected}{found}", token.position)

    def expect(self, kind: str, text: str | None = None, *, expected: str) -> _Token:
        if not self.at(kind, text):
            raise self.fail(expected)
        return self.advance()

    def selector(self) -> Expr:
        expr = self.disjunction()
        if not self.at("end"):
            raise self.fail('"&&", "||" or the end of the selector')
        return expr

    def disjunction(self) -> Expr:
        operands = [self.conjunction()]
        while self.at("||"):
            self.advance()
            operands.append(self.conjunction())
        return _join(Or, operands)

    def conjunction(self) -> Expr:
        operands = [self.unary()]
        while self.at("&&"):
            self.advance()
            operands.append(self.unary())
        return _join(And, operands)

    def unary(self) -> Expr:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            reason = f"nested more than {MAX_DEPTH} deep"
            raise SelectorError(self.source, reason, self.peek().position)
        try:
            if self.at("!"):
                self.advance()
                return Not(self.unary())
            return self.primary()
        finally:
            self.depth -= 1

    def primary(self) -> Expr:
        if self.at("("):
            self.advance()
            inner = self.disjunction()
            self.expect(")", expected='")"')
            return inner
        if not self.at("word"):
            raise self.fail('a label key, "all()", "has(", "!" or "("')
        # `all` and `has` are functions only when a "(" follows; otherwise they are label keys.
        if self.peek(1).kind == "(" and self.peek().text in ("all", "has"):
            name = self.advance().text
            self.advance()
            call: Expr = All() if name == "all" else Has(self.key())
            self.expect(")", expected='")"')
            return call
        return self.comparison(self.key())

    def key(self) -> str:
        token = self.peek()
        if token.kind != "word" or not KEY_PATTERN.fullmatch(token.text):
            raise self.fail("a label key (letters, digits, '_', '.', '/', '-'; first alphanumeric)")
        return self.advance().text

    def comparison(self, key: str) -> Expr:
        token = self.peek()
        word = token.text if token.kind == "word" else None
        if token.kind in ("==", "!="):
            self.advance()
            value = self.string()
            return Equals(key, value) if token.kind == "==" else NotEquals(key, value)
        if word == "in":
            self.advance()
            return In(key, self.string_set())
        if word == "not":
            self.advance()
            self.expect("word", "in", expected='"in" after "not"')
            return NotIn(key, self.string_set())
        if word == "contains":
            self.advance()
            return Contains(key, self.string())
        if word in ("starts", "ends"):
            self.advance()
            self.expect("word", "with", expected=f'"with" after "{word}"')
            value = self.string()
            return StartsWith(key, value) if word == "starts" else EndsWith(key, value)
        raise self.fail(f"an operator ({_VALUE_OPERATORS}) after the label key")

    def string(self) -> str:
        return self.expect("string", expected="a quoted string").text

    def string_set(self) -> frozenset[str]:
        self.expect("{", expected='"{"')
        values: set[str] = set()
        if not self.at("}"):
            values.add(self.string())
            while self.at(","):
                self.advance()
                values.add(self.string())
        self.expect("}", expected='"," or "}"')
        return frozenset(values)


def _join(kind: type[And] | type[Or], operands: list[Expr]) -> Expr:
    if len(operands) == 1:
        return operands[0]
    # Flatten `a || (b || c)` so each tree has one canonical shape and one canonical text.
    flat: list[Expr] = []
    for operand in operands:
        flat.extend(operand.operands if isinstance(operand, kind) else (operand,))
    return kind(tuple(flat))


def parse_selector(text: str) -> Selector:
    """Parse Calico selector text; raise SelectorError saying what was expected and where."""
    if not text.strip():
        raise SelectorError(text, "empty selector")
    return Selector(text, _Parser(text).selector())
