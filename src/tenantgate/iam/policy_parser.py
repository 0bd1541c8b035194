"""Parse policy documents written in OCI's grammar into ``Statement`` values.

``Allow <subject> to <verb> <resource-type> in <location> [where <conditions>]``; a
document is a sequence of such statements (newlines are ordinary spacing; each statement
begins with ``Allow``). The parser is hand-written recursive descent over a tiny grammar:
it gives precise ``line N, column M`` errors without a parser dependency. Values are
checked against their variable's kind here, so a saved policy never fails at request time.
"""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime, time
from typing import TypeVar

from tenantgate.errors import PolicySyntaxError
from tenantgate.iam._policy_tokens import Token, TokenKind, tokenize
from tenantgate.iam.policy_model import (
    COMPARTMENT_DEPTH_MAX,
    OPERATORS,
    VARIABLES,
    AllOf,
    AnyGroup,
    AnyOf,
    AnyUser,
    CidrValue,
    Comparison,
    CompartmentId,
    CompartmentPath,
    Condition,
    DynamicGroups,
    Groups,
    ListValue,
    Location,
    Operator,
    PatternValue,
    ResourceType,
    Scalar,
    Statement,
    StringValue,
    Subject,
    Tenancy,
    TimeRangeValue,
    TimestampValue,
    Value,
    VariableKind,
    Verb,
)

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
"""``request.utc-timestamp.day-of-week`` values, in ``datetime.weekday()`` order."""

PRINCIPAL_TYPE_ALIASES = {"generativeaiapikey": "apikey"}
"""OCI's name for a Generative AI API key principal, so OCI's documented policies paste as-is."""

_T = TypeVar("_T")
_CONDITION_DEPTH_MAX = 8
_RESERVED_NAMES = frozenset({"to", "id", "in", "where"})
_VERBS = {verb.keyword: verb for verb in Verb}
_RESOURCE_TYPES = {rt.value: rt for rt in ResourceType}


def parse_policy(text: str, *, policy_id: str, attached_to: tuple[str, ...]) -> list[Statement]:
    """Every statement of a policy document, ids ``policy_id#1``, ``policy_id#2``, ...

    ``attached_to`` is the path of the compartment the policy is attached to (``()`` for
    the root): compartment paths in the text are relative to it, and ``in tenancy`` is
    allowed only at the root. Raises PolicySyntaxError naming line and column.
    """
    _check_attachment(attached_to)
    parser = _Parser(text, tokenize(text), attached_to)
    statements: list[Statement] = []
    while not parser.at_end():
        statements.append(parser.statement(f"{policy_id}#{len(statements) + 1}"))
    return statements


def parse_statement(text: str, *, statement_id: str, attached_to: tuple[str, ...] = ()) -> Statement:
    """Exactly one statement; convenient for tests and for validating a single line."""
    _check_attachment(attached_to)
    parser = _Parser(text, tokenize(text), attached_to)
    statement = parser.statement(statement_id)
    if not parser.at_end():
        raise parser.fail("end of statement")
    return statement


def _check_attachment(attached_to: tuple[str, ...]) -> None:
    """Reject an impossible attachment path: a caller bug, not a policy error."""
    if len(attached_to) > COMPARTMENT_DEPTH_MAX or not all(attached_to):
        raise ValueError(f"invalid compartment path {attached_to!r}")


class _Parser:
    """Recursive descent over one document's tokens; one method per grammar rule."""

    def __init__(self, text: str, tokens: list[Token], attached_to: tuple[str, ...]) -> None:
        self._text = text
        self._tokens = tokens
        self._pos = 0
        self._attached_to = attached_to

    # Token helpers.

    def at_end(self) -> bool:
        """Whether only the END token remains."""
        return self._peek().kind is TokenKind.END

    def _peek(self, ahead: int = 0) -> Token:
        return self._tokens[min(self._pos + ahead, len(self._tokens) - 1)]

    def _next(self) -> Token:
        token = self._peek()
        self._pos = min(self._pos + 1, len(self._tokens) - 1)
        return token

    def _is_word(self, *words: str, ahead: int = 0) -> bool:
        token = self._peek(ahead)
        return token.kind is TokenKind.WORD and token.text.lower() in words

    def _is_punct(self, char: str) -> bool:
        token = self._peek()
        return token.kind is TokenKind.PUNCT and token.text == char

    def fail(self, expected: str, token: Token | None = None) -> PolicySyntaxError:
        """The error 'expected X, found Y' at ``token`` (default: the next one), to raise."""
        token = token or self._peek()
        return PolicySyntaxError(
            f"expected {expected}, found {token.describe()}", line=token.line, column=token.column
        )

    def _error(self, message: str, token: Token) -> PolicySyntaxError:
        return PolicySyntaxError(message, line=token.line, column=token.column)

    def _expect_word(self, word: str) -> Token:
        if not self._is_word(word):
            raise self.fail(f"'{word}'")
        return self._next()

    def _expect_punct(self, char: str) -> Token:
        if not self._is_punct(char):
            raise self.fail(f"'{char}'")
        return self._next()

    def _name(self, what: str) -> str:
        """A bare word that is not a keyword, or a quoted string (for names with spaces)."""
        token = self._peek()
        if token.kind is TokenKind.STRING and len(token.text) > 2:
            self._next()
            return token.text[1:-1]
        if token.kind is TokenKind.WORD and token.text.lower() not in _RESERVED_NAMES:
            self._next()
            return token.text
        raise self.fail(what)

    # Grammar rules.

    def statement(self, statement_id: str) -> Statement:
        """``Allow subject to verb resource-type in location [where condition]``."""
        first = self._peek()
        if self._is_word("endorse", "admit", "define", "deny"):
            raise self._error(f"only Allow statements are supported, found '{first.text}'", first)
        self._expect_word("allow")
        subject = self._subject()
        self._expect_word("to")
        verb = self._keyword(_VERBS, "a verb (inspect, read, use or manage)")
        resource_type = self._keyword(_RESOURCE_TYPES, "a resource type")
        self._expect_word("in")
        location = self._location()
        condition = None
        if self._is_word("where"):
            self._next()
            condition = self._condition(depth=1)
        last = self._tokens[self._pos - 1]
        return Statement(
            id=statement_id,
            subject=subject,
            verb=verb,
            resource_type=resource_type,
            location=location,
            condition=condition,
            attached_to=self._attached_to,
            source=self._text[first.start : last.end],
        )

    def _keyword(self, table: dict[str, _T], expected: str) -> _T:
        token = self._peek()
        found = table.get(token.text.lower()) if token.kind is TokenKind.WORD else None
        if found is None:
            raise self.fail(expected)
        self._next()
        return found

    def _subject(self) -> Subject:
        """``any-user`` | ``any-group`` | ``group ref, ...`` | ``dynamic-group ref, ...``."""
        if self._is_word("any-user"):
            self._next()
            return AnyUser()
        if self._is_word("any-group"):
            self._next()
            return AnyGroup()
        if self._is_word("group", "dynamic-group"):
            keyword = self._next().text.lower()
            names, ids = self._group_refs(keyword)
            return Groups(names, ids) if keyword == "group" else DynamicGroups(names, ids)
        raise self.fail("a subject (group, dynamic-group, any-user or any-group)")

    def _group_refs(self, keyword: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """``A, group B, id X`` after the first ``group``: names and ids, in order."""
        names: list[str] = []
        ids: list[str] = []
        while True:
            if self._is_word("id"):
                self._next()
                ids.append(self._name(f"a {keyword} id"))
            else:
                names.append(self._name(f"a {keyword} name"))
            if not self._is_punct(","):
                return tuple(names), tuple(ids)
            self._next()
            if self._is_word(keyword):
                self._next()

    def _location(self) -> Location:
        """``tenancy`` | ``compartment id X`` | ``compartment A:B:C``."""
        token = self._peek()
        if self._is_word("tenancy"):
            self._next()
            if self._attached_to:
                where = ":".join(self._attached_to)
                raise self._error(
                    f"a policy attached to compartment {where} cannot grant 'in tenancy'; "
                    "attach it to the root compartment",
                    token,
                )
            return Tenancy()
        self._expect_word("compartment")
        if self._is_word("id"):
            self._next()
            return CompartmentId(self._name("a compartment id"))
        names = [self._name("a compartment name or 'id'")]
        while self._is_punct(":"):
            self._next()
            names.append(self._name("a compartment name"))
        return CompartmentPath(self._resolve(tuple(names), token))

    def _resolve(self, names: tuple[str, ...], token: Token) -> tuple[str, ...]:
        """The absolute path of ``names`` written in a policy attached to ``attached_to``.

        As in OCI, paths are relative to the attached compartment, and a path may also
        start with that compartment's own name to mean the compartment itself.
        """
        attached = self._attached_to
        names_itself = bool(attached) and names[0] == attached[-1]
        path = attached + (names[1:] if names_itself else names)
        if len(path) > COMPARTMENT_DEPTH_MAX:
            raise self._error(
                f"compartment {':'.join(path)} is nested {len(path)} levels deep; "
                f"at most {COMPARTMENT_DEPTH_MAX} are allowed",
                token,
            )
        return path

    def _condition(self, depth: int) -> Condition:
        """``any {c, ...}`` | ``all {c, ...}`` | a comparison."""
        token = self._peek()
        if self._is_word("any", "all") and self._peek(1).text == "{":
            if depth > _CONDITION_DEPTH_MAX:
                raise self._error(f"conditions nest at most {_CONDITION_DEPTH_MAX} deep", token)
            self._next()
            self._next()
            children = [self._condition(depth + 1)]
            while self._is_punct(","):
                self._next()
                children.append(self._condition(depth + 1))
            self._expect_punct("}")
            return AnyOf(tuple(children)) if token.text.lower() == "any" else AllOf(tuple(children))
        return self._comparison()

    def _comparison(self) -> Comparison:
        """``variable op value``, with the value checked against the variable's kind."""
        token = self._peek()
        if token.kind is not TokenKind.WORD:
            raise self.fail("a condition variable, 'any {' or 'all {'")
        variable = token.text.lower()
        kind = VARIABLES.get(variable)
        if kind is None:
            raise self._error(f"unknown condition variable '{token.text}'", token)
        self._next()
        operator_token = self._peek()
        operator = self._operator()
        if operator not in OPERATORS[kind]:
            allowed = ", ".join(sorted(f"'{op.value}'" for op in OPERATORS[kind]))
            raise self._error(
                f"'{variable}' cannot be compared with '{operator.value}'; use {allowed}", operator_token
            )
        return Comparison(variable, operator, self._value(variable, kind, operator))

    def _operator(self) -> Operator:
        token = self._peek()
        if token.kind is TokenKind.OPERATOR:
            self._next()
            return Operator(token.text)
        if self._is_word("not") and self._is_word("in", ahead=1):
            self._next()
            self._next()
            return Operator.NOT_IN
        if self._is_word("in", "before", "after", "between"):
            self._next()
            return Operator(token.text.lower())
        raise self.fail("an operator (=, !=, in, not in, before, after, between)")

    def _value(self, variable: str, kind: VariableKind, operator: Operator) -> Value:
        if operator is Operator.BETWEEN:
            start = _time_of_day(self._string("a time such as '09:00:00Z'"))
            self._expect_word("and")
            return TimeRangeValue(start, _time_of_day(self._string("a time such as '17:00:00Z'")))
        if kind is VariableKind.TIMESTAMP:
            return TimestampValue(_timestamp(self._string("a time such as '2025-01-01T00:00Z'")))
        if operator in (Operator.IN, Operator.NOT_IN):
            self._expect_punct("(")
            items = [self._scalar(variable, kind)]
            while self._is_punct(","):
                self._next()
                items.append(self._scalar(variable, kind))
            self._expect_punct(")")
            return ListValue(tuple(items))
        return self._scalar(variable, kind)

    def _string(self, expected: str) -> Token:
        if self._peek().kind is not TokenKind.STRING:
            raise self.fail(expected)
        return self._next()

    def _scalar(self, variable: str, kind: VariableKind) -> Scalar:
        """One quoted value or /pattern/, converted for the variable's kind."""
        token = self._peek()
        if token.kind is TokenKind.PATTERN and kind is VariableKind.STRING:
            self._next()
            return PatternValue(token.text[1:-1])
        text = self._string("a quoted value" + (" or /pattern/" if kind is VariableKind.STRING else ""))
        value = text.text[1:-1]
        try:
            return _convert(variable, kind, value)
        except ValueError as exc:
            raise self._error(str(exc), text) from None


def _convert(variable: str, kind: VariableKind, value: str) -> Scalar:
    """A string written in the policy as the value its variable compares with."""
    if kind is VariableKind.IP:
        try:
            return CidrValue(ipaddress.ip_network(value, strict=False))
        except ValueError:
            raise ValueError(f"'{value}' is not an IP address or CIDR block") from None
    if kind is VariableKind.DAY_OF_WEEK:
        if value.lower() not in WEEKDAYS:
            raise ValueError(f"'{value}' is not a day of the week (monday ... sunday)")
        return StringValue(value.lower())
    if variable == "request.principal.type":
        return StringValue(PRINCIPAL_TYPE_ALIASES.get(value.lower(), value))
    return StringValue(value)


def _timestamp(token: Token) -> datetime:
    """An ISO-8601 instant; one without an offset is read as UTC (OCI writes ``...Z``)."""
    try:
        at = datetime.fromisoformat(token.text[1:-1])
    except ValueError:
        raise PolicySyntaxError(
            f"{token.text} is not an ISO-8601 time such as '2025-01-01T00:00Z'",
            line=token.line,
            column=token.column,
        ) from None
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def _time_of_day(token: Token) -> time:
    """``HH:MM[:SS]`` with an optional ``Z``; other offsets are refused (UTC only)."""
    text = token.text[1:-1]
    try:
        parsed = time.fromisoformat(text)
        offset = parsed.utcoffset()
        if offset is not None and offset.total_seconds() != 0:
            raise ValueError
    except ValueError:
        raise PolicySyntaxError(
            f"{token.text} is not a UTC time of day such as '09:00:00Z'",
            line=token.line,
            column=token.column,
        ) from None
    return parsed.replace(tzinfo=None)
