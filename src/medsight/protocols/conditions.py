"""The small declarative vocabulary the rules' conditions are written in, and its interpreter.

A condition is data, never code::

    {field: age, lt: 18}                              # comparison: eq ne lt le gt ge in not_in
    {field: family_history, has_any: [brca1, brca2]}  # set membership: has, has_any
    {field: egfr, missing: true}                      # presence (never unknown)
    {all: [...]}  {any: [...]}  {not: {...}}          # Kleene logic

Facts are a flat mapping from a dotted field name (``smoking.pack_years``,
``findings.nodule_size_mm``) to a value; a field the profile left out is ``None``. The
logic is three-valued: a comparison on a missing field is *unknown*, not false, so the
engine can say which field it needs instead of deciding on a silent default. Conditions
are compiled once, at load time, into closures (the engine evaluates about 40 per
recommendation).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from medsight.errors import KnowledgeBaseError

__all__ = ["COMPARISONS", "Condition", "compile_condition"]

Facts = Mapping[str, Any]
Tri = bool | None  # True, False, or None for unknown

COMPARISONS = ("eq", "ne", "lt", "le", "gt", "ge", "in", "not_in", "has", "has_any", "missing")
_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "eq": lambda a, b: bool(a == b),
    "ne": lambda a, b: bool(a != b),
    "lt": lambda a, b: bool(a < b),
    "le": lambda a, b: bool(a <= b),
    "gt": lambda a, b: bool(a > b),
    "ge": lambda a, b: bool(a >= b),
    "in": lambda a, b: a in b,
    "not_in": lambda a, b: a not in b,
    "has": lambda a, b: b in a,
    "has_any": lambda a, b: bool(set(a) & set(b)),
}


@dataclass(frozen=True)
class Condition:
    """A compiled condition: ``evaluate(facts)`` and the fields it reads."""

    evaluate: Callable[[Facts], Tri]
    fields: frozenset[str]
    text: str

    def missing(self, facts: Facts) -> list[str]:
        """The fields this condition reads that ``facts`` lacks (why it was unknown)."""
        return sorted(f for f in self.fields if facts.get(f) is None)


def compile_condition(raw: Any, where: str, known_fields: Callable[[str], bool]) -> Condition:
    """Compile one condition from its YAML form.

    Args:
        raw: the parsed YAML mapping.
        where: where it sits in the rules, for the error message.
        known_fields: whether a dotted field name exists (so a typo fails at load).

    Raises:
        KnowledgeBaseError: not a condition of the vocabulary, or an unknown field.
    """
    if not isinstance(raw, dict) or not raw:
        raise KnowledgeBaseError(f"{where}: a condition must be a non-empty mapping")
    if len(raw) == 1 and ("all" in raw or "any" in raw):
        key = "all" if "all" in raw else "any"
        items = raw[key]
        if not isinstance(items, list) or not items:
            raise KnowledgeBaseError(f"{where}: '{key}' takes a non-empty list")
        parts = [compile_condition(item, f"{where}.{key}[{i}]", known_fields) for i, item in enumerate(items)]
        return _combine(key, parts)
    if len(raw) == 1 and "not" in raw:
        inner = compile_condition(raw["not"], f"{where}.not", known_fields)
        return Condition(_negate(inner.evaluate), inner.fields, f"not ({inner.text})")
    return _comparison(raw, where, known_fields)


def _comparison(raw: dict[str, Any], where: str, known_fields: Callable[[str], bool]) -> Condition:
    field = raw.get("field")
    ops = [key for key in raw if key != "field"]
    if not isinstance(field, str) or len(ops) != 1 or ops[0] not in COMPARISONS:
        raise KnowledgeBaseError(f"{where}: expected {{field: NAME, OP: VALUE}} with OP one of {COMPARISONS}")
    if not known_fields(field):
        raise KnowledgeBaseError(f"{where}: unknown field '{field}'")
    op, operand = ops[0], raw[ops[0]]
    if op in ("in", "not_in", "has_any") and not isinstance(operand, list):
        raise KnowledgeBaseError(f"{where}: '{op}' takes a list")
    text = f"{field} {op} {operand}"
    if op == "missing":
        wanted = bool(operand)

        def present(facts: Facts) -> Tri:
            return (facts.get(field) is None) == wanted

        return Condition(present, frozenset({field}), text)
    compare = _COMPARE[op]
    value = frozenset(operand) if isinstance(operand, list) else operand

    def evaluate(facts: Facts) -> Tri:
        actual = facts.get(field)
        if actual is None:
            return None
        try:
            return compare(actual, value)
        except TypeError:
            return False  # a number compared with a code: not this case

    return Condition(evaluate, frozenset({field}), text)


def _combine(key: str, parts: list[Condition]) -> Condition:
    evaluators = tuple(part.evaluate for part in parts)
    fields = frozenset().union(*(part.fields for part in parts))
    text = f" {key[:3]} ".join(f"({part.text})" for part in parts)
    if key == "all":

        def all_of(facts: Facts) -> Tri:
            unknown = False
            for evaluate in evaluators:
                result = evaluate(facts)
                if result is False:
                    return False
                unknown = unknown or result is None
            return None if unknown else True

        return Condition(all_of, fields, text)

    def any_of(facts: Facts) -> Tri:
        unknown = False
        for evaluate in evaluators:
            result = evaluate(facts)
            if result is True:
                return True
            unknown = unknown or result is None
        return None if unknown else False

    return Condition(any_of, fields, text)


def _negate(evaluate: Callable[[Facts], Tri]) -> Callable[[Facts], Tri]:
    def negated(facts: Facts) -> Tri:
        result = evaluate(facts)
        return None if result is None else not result

    return negated
