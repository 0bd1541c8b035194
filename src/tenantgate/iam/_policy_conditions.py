"""Compile condition trees into closures, so the hot path does no tree walking or parsing.

A compiled check takes the request context and a list to which it appends an explanation
when the request lacks a variable the condition names; such a comparison is false (OCI:
the condition does not match), whatever its operator.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from datetime import UTC, datetime, time
from functools import lru_cache
from typing import TYPE_CHECKING

from tenantgate.iam.policy_model import (
    AllOf,
    AnyOf,
    CidrValue,
    Comparison,
    Condition,
    ListValue,
    Operator,
    PatternValue,
    Scalar,
    StringValue,
    TimeRangeValue,
    TimestampValue,
)

if TYPE_CHECKING:
    from tenantgate.iam.policy_evaluator import RequestContext

Check = Callable[["RequestContext", list[str]], bool]
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def _target_name(context: RequestContext) -> str | None:
    return context.compartment_path[-1] if context.compartment_path else None


def _target_id(context: RequestContext) -> str | None:
    return context.compartment_ids[-1] if context.compartment_ids else None


_STRING_GETTERS: dict[str, Callable[[RequestContext], str | None]] = {
    "request.model": lambda c: c.model,
    "request.region": lambda c: c.region,
    "request.operation": lambda c: c.operation,
    "request.principal.type": lambda c: c.principal_type,
    "request.principal.id": lambda c: c.principal_id,
    "request.user.name": lambda c: c.user_name,
    "target.compartment.name": _target_name,
    "target.compartment.id": _target_id,
}


def compile_condition(condition: Condition, statement_id: str) -> Check:
    """A closure deciding ``condition`` for one request; ``statement_id`` labels its errors."""
    if isinstance(condition, AnyOf | AllOf):
        children = tuple(compile_condition(child, statement_id) for child in condition.conditions)
        if isinstance(condition, AnyOf):
            return lambda context, errors: any(child(context, errors) for child in children)
        return lambda context, errors: all(child(context, errors) for child in children)
    return _compile_comparison(condition, statement_id)


def _compile_comparison(comparison: Comparison, statement_id: str) -> Check:
    """The branch on variable kind happens once, here, not per request."""
    variable, operator, value = comparison.variable, comparison.operator, comparison.value
    missing = f"{statement_id}: the request has no {variable}, so its condition does not match"
    if variable in _STRING_GETTERS:
        return _string_check(_STRING_GETTERS[variable], operator, _scalars(value), missing)
    if variable == "request.ip":
        return _ip_check(operator, _scalars(value), missing, statement_id)
    if variable == "request.utc-timestamp.day-of-week":
        return _string_check(_weekday, operator, _scalars(value), missing)
    if isinstance(value, TimestampValue):
        return _timestamp_check(operator, value.at, missing)
    if isinstance(value, TimeRangeValue):
        return _time_of_day_check(value.start, value.end, missing)
    raise ValueError(f"cannot compile {comparison!r}")  # the parser never builds this


def _scalars(value: object) -> tuple[Scalar, ...]:
    if isinstance(value, ListValue):
        return value.items
    if isinstance(value, StringValue | PatternValue | CidrValue):
        return (value,)
    raise ValueError(f"not a comparable value: {value!r}")


def _negates(operator: Operator) -> bool:
    return operator in (Operator.NE, Operator.NOT_IN)


def _string_check(
    getter: Callable[[RequestContext], str | None],
    operator: Operator,
    values: tuple[Scalar, ...],
    missing: str,
) -> Check:
    """Exact strings go in a set; /patterns/ become anchored regular expressions."""
    exact = frozenset(v.text for v in values if isinstance(v, StringValue))
    patterns = tuple(_pattern_regex(v.pattern) for v in values if isinstance(v, PatternValue))
    negate = _negates(operator)

    def check(context: RequestContext, errors: list[str]) -> bool:
        actual = getter(context)
        if actual is None:
            errors.append(missing)
            return False
        found = actual in exact or any(p.fullmatch(actual) for p in patterns)
        return found is not negate

    return check


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    """OCI patterns: ``*`` is any run of characters; nothing else is special."""
    return re.compile(".*".join(re.escape(part) for part in pattern.split("*")), re.DOTALL)


def _weekday(context: RequestContext) -> str | None:
    at = context.utc_timestamp
    return None if at is None else _WEEKDAYS[_utc(at).weekday()]


def _ip_check(operator: Operator, values: tuple[Scalar, ...], missing: str, statement_id: str) -> Check:
    networks = tuple(v.network for v in values if isinstance(v, CidrValue))
    negate = _negates(operator)

    def check(context: RequestContext, errors: list[str]) -> bool:
        if context.ip is None:
            errors.append(missing)
            return False
        address = _parse_ip(context.ip)
        if address is None:
            errors.append(f"{statement_id}: request.ip {context.ip!r} is not an IP address")
            return False
        found = any(address in network for network in networks)
        return found is not negate

    return check


@lru_cache(maxsize=4096)
def _parse_ip(text: str) -> _IpAddress | None:
    """Parsing costs more than the check; a bounded cache keeps repeat callers cheap."""
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _utc(at: datetime) -> datetime:
    """The request time in UTC; a naive time is taken to be UTC already."""
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def _timestamp_check(operator: Operator, bound: datetime, missing: str) -> Check:
    before = operator is Operator.BEFORE

    def check(context: RequestContext, errors: list[str]) -> bool:
        at = context.utc_timestamp
        if at is None:
            errors.append(missing)
            return False
        at = _utc(at)
        return at < bound if before else at > bound

    return check


def _time_of_day_check(start: time, end: time, missing: str) -> Check:
    """Start inclusive, end exclusive; ``22:00`` to ``06:00`` wraps past midnight."""

    def check(context: RequestContext, errors: list[str]) -> bool:
        at = context.utc_timestamp
        if at is None:
            errors.append(missing)
            return False
        now = _utc(at).time()
        if start <= end:
            return start <= now < end
        return now >= start or now < end

    return check
