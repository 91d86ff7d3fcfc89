"""Label selectors, mirroring ``k8s.io/apimachinery/pkg/labels``.

A selector is a conjunction (AND) of requirements on an object's labels::

    app=bitcoind                 key has exactly this value   (also "==")
    tier!=cache                  key is absent or has another value
    env in (regtest,signet)      key has one of these values
    env notin (mainnet)          key is absent or has none of these values
    owner                        key is present, any value
    !legacy                      key is absent
    replicas>2 / replicas<5      key's value is an integer greater / smaller

Listers take a :class:`Selector`; :func:`everything` (the empty selector)
matches every object and lets listers skip label evaluation entirely, and
:func:`nothing` matches no object.  Parsing and validation follow Go's rules,
so a selector accepted here is one the API server accepts in
``labelSelector`` -- and :meth:`Selector.__str__` prints it back in Go's
canonical form (requirements sorted by key, set values sorted).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Mapping

__all__ = [
    "Operator",
    "Requirement",
    "Selector",
    "everything",
    "nothing",
    "selector_from_set",
    "selector_from_validated_set",
    "parse",
    "new_requirement",
]


class Operator(enum.StrEnum):
    """``selection.Operator``: the relation a requirement checks."""

    EQUALS = "="
    DOUBLE_EQUALS = "=="
    NOT_EQUALS = "!="
    IN = "in"
    NOT_IN = "notin"
    EXISTS = "exists"
    DOES_NOT_EXIST = "!"
    GREATER_THAN = "gt"
    LESS_THAN = "lt"


# Validation mirrors k8s.io/apimachinery/pkg/util/validation: a label key is
# an optional DNS-1123 subdomain prefix plus "/" plus a name of at most 63
# characters; a value is empty or a name-shaped string of at most 63 characters.
_NAME_RE = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_DNS1123_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_SUBDOMAIN_RE = re.compile(rf"^{_DNS1123_LABEL}(\.{_DNS1123_LABEL})*$")
_MAX_NAME_LEN = 63
_MAX_PREFIX_LEN = 253


def _validate_key(key: str) -> None:
    prefix, slash, name = key.rpartition("/")
    if slash and not (len(prefix) <= _MAX_PREFIX_LEN and _DNS1123_SUBDOMAIN_RE.match(prefix)):
        raise ValueError(f"invalid label key {key!r}: prefix must be a DNS-1123 subdomain")
    if not name or len(name) > _MAX_NAME_LEN or not _NAME_RE.match(name):
        raise ValueError(
            f"invalid label key {key!r}: name part must be 1-63 characters, alphanumeric, "
            "'-', '_' or '.', starting and ending with an alphanumeric character"
        )


def _validate_value(value: str) -> None:
    if value == "":
        return
    if len(value) > _MAX_NAME_LEN or not _NAME_RE.match(value):
        raise ValueError(
            f"invalid label value {value!r}: must be empty or 1-63 characters, alphanumeric, "
            "'-', '_' or '.', starting and ending with an alphanumeric character"
        )


class Requirement:
    """``labels.Requirement``: one ``key <op> values`` condition.

    Immutable once built; construct through :func:`new_requirement`, which
    validates the key, the values and the number of values each operator
    takes (exactly one for equality, at least one for ``in``/``notin``, none
    for exists, one integer for ``gt``/``lt``).
    """

    __slots__ = ("key", "operator", "values")

    def __init__(self, key: str, operator: Operator, values: tuple[str, ...]) -> None:
        self.key = key
        self.operator = operator
        self.values = values

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether ``labels`` satisfy this requirement.

        The negative operators (``!=``, ``notin``) are satisfied by an
        *absent* key, matching the API server: "not in the set" includes
        "has no value at all".
        """
        op = self.operator
        if op in (Operator.EQUALS, Operator.DOUBLE_EQUALS, Operator.IN):
            return self.key in labels and labels[self.key] in self.values
        if op in (Operator.NOT_EQUALS, Operator.NOT_IN):
            return self.key not in labels or labels[self.key] not in self.values
        if op is Operator.EXISTS:
            return self.key in labels
        if op is Operator.DOES_NOT_EXIST:
            return self.key not in labels
        # gt / lt: the label must hold an integer; anything else does not match.
        if self.key not in labels:
            return False
        try:
            have = int(labels[self.key])
        except ValueError:
            return False
        want = int(self.values[0])
        return have > want if op is Operator.GREATER_THAN else have < want

    def __str__(self) -> str:
        op = self.operator
        if op is Operator.EXISTS:
            return self.key
        if op is Operator.DOES_NOT_EXIST:
            return "!" + self.key
        if op is Operator.IN:
            return f"{self.key} in ({','.join(self.values)})"
        if op is Operator.NOT_IN:
            return f"{self.key} notin ({','.join(self.values)})"
        if op is Operator.GREATER_THAN:
            return f"{self.key}>{self.values[0]}"
        if op is Operator.LESS_THAN:
            return f"{self.key}<{self.values[0]}"
        return f"{self.key}{op.value}{self.values[0]}"

    def __repr__(self) -> str:
        return f"Requirement({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Requirement)
            and (self.key, self.operator, self.values) == (other.key, other.operator, other.values)
        )

    def __hash__(self) -> int:
        return hash((self.key, self.operator, self.values))


def new_requirement(key: str, operator: Operator | str, values: Iterable[str] = ()) -> Requirement:
    """``labels.NewRequirement``: validate and build a requirement; ``ValueError`` if invalid."""
    op = Operator(operator)
    vals = list(values)
    _validate_key(key)
    if op in (Operator.EQUALS, Operator.DOUBLE_EQUALS, Operator.NOT_EQUALS):
        if len(vals) != 1:
            raise ValueError(f"{op.value!r}: exact-match compatibility requires one single value")
    elif op in (Operator.IN, Operator.NOT_IN):
        if not vals:
            raise ValueError(f"{op.value!r}: for 'in', 'notin' operators, values can't be empty")
    elif op in (Operator.EXISTS, Operator.DOES_NOT_EXIST):
        if vals:
            raise ValueError(f"{op.value!r}: values must be empty for exists and does not exist")
    else:
        if len(vals) != 1:
            raise ValueError(f"{op.value!r}: for 'Gt', 'Lt' operators, one value is required")
        try:
            int(vals[0])
        except ValueError:
            raise ValueError(
                f"{op.value!r}: for 'Gt', 'Lt' operators, the value must be an integer"
            ) from None
    for v in vals:
        if op not in (Operator.GREATER_THAN, Operator.LESS_THAN):
            _validate_value(v)
    # Sorted, de-duplicated values give the canonical string form Go prints.
    return Requirement(key, op, tuple(sorted(set(vals))))


class Selector:
    """``labels.Selector``: an AND of :class:`Requirement` s.

    ``Selector()`` with no requirements is the empty selector, which matches
    everything; :func:`nothing` returns a selector that matches nothing.
    """

    __slots__ = ("_requirements", "_nothing")

    def __init__(self, requirements: Iterable[Requirement] = (), *, _nothing: bool = False) -> None:
        self._requirements = tuple(sorted(requirements, key=lambda r: r.key))
        self._nothing = _nothing

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        """Whether an object with these labels is selected."""
        if self._nothing:
            return False
        labels = labels or {}
        return all(r.matches(labels) for r in self._requirements)

    def empty(self) -> bool:
        """True for the match-everything selector, so callers can skip reading labels."""
        return not self._nothing and not self._requirements

    def requirements(self) -> tuple[Requirement, ...]:
        """The requirements, sorted by key (``Selector.Requirements``)."""
        return self._requirements

    def add(self, *requirements: Requirement) -> Selector:
        """A new selector with extra requirements (``Selector.Add``); this one is unchanged."""
        if self._nothing:
            return self
        return Selector((*self._requirements, *requirements))

    def __str__(self) -> str:
        return ",".join(str(r) for r in self._requirements)

    def __repr__(self) -> str:
        if self._nothing:
            return "labels.nothing()"
        return f"labels.parse({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Selector)
            and self._nothing == other._nothing
            and self._requirements == other._requirements
        )

    def __hash__(self) -> int:
        return hash((self._nothing, self._requirements))


_EVERYTHING = Selector()
_NOTHING = Selector(_nothing=True)


def everything() -> Selector:
    """``labels.Everything``: the empty selector; matches every object."""
    return _EVERYTHING


def nothing() -> Selector:
    """``labels.Nothing``: matches no object (and is not :meth:`~Selector.empty`)."""
    return _NOTHING


def selector_from_set(labels: Mapping[str, str] | None) -> Selector:
    """``labels.SelectorFromSet``: ``key=value`` for each entry; ``ValueError`` on invalid input.

    An empty or ``None`` set gives the match-everything selector.
    """
    if not labels:
        return _EVERYTHING
    return Selector(new_requirement(k, Operator.EQUALS, [v]) for k, v in labels.items())


def selector_from_validated_set(labels: Mapping[str, str] | None) -> Selector:
    """``labels.SelectorFromValidatedSet``: like :func:`selector_from_set` without validation.

    For hot paths where the labels come from an object the API server has
    already validated.
    """
    if not labels:
        return _EVERYTHING
    return Selector(Requirement(k, Operator.EQUALS, (v,)) for k, v in labels.items())


# -- parsing ------------------------------------------------------------------

# Tokens of the selector grammar.  Anything that is not whitespace or one of
# these special characters is part of an identifier, as in Go's lexer.
_TOKEN_RE = re.compile(r"\s*(!=|==|=|!|\(|\)|,|>|<|[^\s!=(),<>]+)")


def _tokenize(selector: str) -> list[str]:
    tokens: list[str] = []
    pos = 0
    text = selector.rstrip()
    while pos < len(text):
        m = _TOKEN_RE.match(text, pos)
        if m is None:  # pragma: no cover -- the pattern accepts every non-space character
            raise ValueError(f"unable to parse requirement: {selector!r}")
        tokens.append(m.group(1))
        pos = m.end()
    return tokens


_SPECIAL = {"!=", "==", "=", "!", "(", ")", ",", ">", "<"}
_EQUALITY_OPS = {"=": Operator.EQUALS, "==": Operator.DOUBLE_EQUALS, "!=": Operator.NOT_EQUALS}


class _Parser:
    def __init__(self, selector: str) -> None:
        self._text = selector
        self._tokens = _tokenize(selector)
        self._pos = 0

    def _peek(self) -> str | None:
        return self._tokens[self._pos] if self._pos < len(self._tokens) else None

    def _next(self) -> str | None:
        tok = self._peek()
        self._pos += 1
        return tok

    def _error(self, what: str) -> ValueError:
        return ValueError(f"unable to parse requirement: {what} in selector {self._text!r}")

    def _identifier(self, what: str) -> str:
        tok = self._next()
        if tok is None or tok in _SPECIAL:
            raise self._error(f"expected {what}, found {tok!r}")
        return tok

    def parse(self) -> list[Requirement]:
        requirements: list[Requirement] = []
        if self._peek() is None:
            return requirements
        while True:
            requirements.append(self._requirement())
            tok = self._next()
            if tok is None:
                return requirements
            if tok != ",":
                raise self._error(f"found {tok!r}, expected ','")
            if self._peek() is None:
                raise self._error("found end of input after ','")

    def _requirement(self) -> Requirement:
        if self._peek() == "!":
            self._next()
            return new_requirement(self._identifier("a key"), Operator.DOES_NOT_EXIST)
        key = self._identifier("a key")
        tok = self._peek()
        if tok is None or tok == ",":
            return new_requirement(key, Operator.EXISTS)
        self._next()
        if tok in ("=", "==", "!="):
            op = _EQUALITY_OPS[tok]
            value = self._peek()
            # "key=" selects the empty value, so a missing value is allowed.
            if value is None or value == ",":
                return new_requirement(key, op, [""])
            return new_requirement(key, op, [self._identifier("a value")])
        if tok in (">", "<"):
            op = Operator.GREATER_THAN if tok == ">" else Operator.LESS_THAN
            return new_requirement(key, op, [self._identifier("an integer")])
        if tok in ("in", "notin"):
            op = Operator.IN if tok == "in" else Operator.NOT_IN
            return new_requirement(key, op, self._value_set())
        raise self._error(f"found {tok!r}, expected an operator")

    def _value_set(self) -> list[str]:
        if self._next() != "(":
            raise self._error("expected '(' after 'in'/'notin'")
        values: list[str] = []
        while True:
            tok = self._next()
            if tok is None:
                raise self._error("found end of input, expected ')'")
            if tok in (",", ")"):
                # An empty slot ("(a,,b)" or "()") is the empty value, as in Go.
                values.append("")
            else:
                if tok in _SPECIAL:
                    raise self._error(f"found {tok!r} in a value set")
                values.append(tok)
                tok = self._next()
            if tok == ")":
                return values
            if tok != ",":
                raise self._error(f"found {tok!r}, expected ',' or ')'")


def parse(selector: str) -> Selector:
    """``labels.Parse``: parse a selector string; ``ValueError`` on bad syntax or invalid input.

    ``""`` parses to the match-everything selector.
    """
    return Selector(_Parser(selector).parse())
