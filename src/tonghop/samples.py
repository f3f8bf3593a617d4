"""Valid returns made from the form itself: for the demo, the tests and the benchmarks.

:func:`sample_values` fills every field a period asks for with a plausible value of its type,
keeps the values it is given, then makes each of the form's rules hold by solving it for one
value it chose itself. A rule is solved from its own text (``a == b + c - d`` sets ``a``;
``a <= b`` and ``a + b <= c`` lower ``a`` and ``b``), so the
balance of members and every other rule live in form.toml alone, not in the callers. Rules
whose values were all given are left as they are: a caller asking for a wrong value gets it.
"""

from __future__ import annotations

import ast
import datetime as dt
import random
from collections.abc import Mapping
from typing import Any

from tonghop.errors import TonghopError
from tonghop.expr import Expr
from tonghop.form import IDENTITY_FIELDS, Field, FieldType, FormSpec, Rule, Total
from tonghop.intake.values import coerce
from tonghop.periods import Period

__all__ = ["sample_values"]

_PASSES = 20


def sample_values(
    form: FormSpec,
    period: Period,
    branch_code: str,
    *,
    seed: int = 0,
    given: Mapping[str, Any] | None = None,
    start: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A return of ``branch_code`` for ``period`` that passes every rule of ``form``.

    ``given`` values are kept as they are; ``start`` values are where the others start from
    (the rules may change them); the rest are drawn from ``seed``.
    """
    rng = random.Random(f"{seed}:{branch_code}:{period.code}")
    fixed = dict(given or {})
    preferred = dict(start or {})
    values: dict[str, Any] = {}
    for fld in form.fields_for(period.kind):
        if fld.id in fixed:
            values[fld.id] = fixed[fld.id]
        elif fld.id in preferred:
            values[fld.id] = preferred[fld.id]
        elif fld.id == "branch_code":
            values[fld.id] = branch_code
        elif fld.id == "period":
            values[fld.id] = period.code
        else:
            values[fld.id] = _plausible(fld, period, rng)
    for key, value in fixed.items():
        values.setdefault(key, value)
    _satisfy(form, period, values, free=set(values) - set(fixed) - set(IDENTITY_FIELDS))
    return values


def _plausible(fld: Field, period: Period, rng: random.Random) -> Any:
    if fld.type == FieldType.COUNT:
        if fld.total in (Total.STOCK_START, Total.STOCK_END):
            return rng.randint(20, 40)
        return rng.randint(0, 3)
    if fld.type == FieldType.MONEY:
        return rng.randint(1, 20) * 10_000_000
    if fld.type == FieldType.DATE:
        return (period.end + dt.timedelta(days=3)).strftime("%d/%m/%Y")
    if fld.type == FieldType.CHOICE:
        return rng.choice(fld.choices)
    if fld.required:
        return f"Nguyễn Văn {rng.choice('ABCDEGHKLMNPQST')}"
    return f"Nội dung mục «{fld.label}» của chi bộ."


def _satisfy(form: FormSpec, period: Period, values: dict[str, Any], free: set[str]) -> None:
    asked = {f.id for f in form.fields_for(period.kind)}
    rules = [r for r in form.rules if (r.names - {"previous", "period_kind"}) <= asked]
    for _ in range(_PASSES):
        changed = False
        for rule in rules:
            scope = _scope(form, values)
            if not _holds(rule, scope):
                changed |= _solve(rule, _compare_of(rule), values, scope, free)
        if not changed:
            return


def _holds(rule: Rule, scope: dict[str, Any]) -> bool:
    try:
        return rule.holds(scope)
    except TonghopError:
        return True  # not computable on these values (text in a sum): as the checker does


def _scope(form: FormSpec, values: dict[str, Any]) -> dict[str, Any]:
    """The values as the checker computes with them: numbers typed as text are numbers,
    blank or unreadable ones are 0."""
    scope: dict[str, Any] = {"previous": None}
    for fid, fld in form.fields.items():
        value = values.get(fid)
        if fld.is_number:
            try:
                value = coerce(fld, value)
            except TonghopError:
                value = None
            value = 0 if value is None else value
        scope[fid] = value
    return scope


def _compare_of(rule: Rule) -> ast.Compare | None:
    """The comparison a rule must make true (``previous is none or X`` counts as ``X``)."""
    node = ast.parse(rule.check.strip(), mode="eval").body
    if isinstance(node, ast.BoolOp) and isinstance(node.op, ast.Or):
        node = node.values[-1]
    if isinstance(node, ast.Compare) and len(node.ops) == 1:
        return node
    return None


def _solve(
    rule: Rule,
    compare: ast.Compare | None,
    values: dict[str, Any],
    scope: dict[str, Any],
    free: set[str],
) -> bool:
    """Change one free value so ``compare`` holds; False when nothing free can change."""
    if compare is None:
        return False
    left, right, op = compare.left, compare.comparators[0], type(compare.ops[0])
    lhs, rhs = _value(left, scope), _value(right, scope)
    if op is ast.Eq:
        for side, other, expr in ((left, rhs, right), (right, lhs, left)):
            if isinstance(side, ast.Name) and side.id in free:
                if isinstance(other, int | float) and other < 0:
                    # A count cannot be negative: lower what the other side takes away.
                    return _lower(_signed_names(expr, -1), -other, values, free)
                values[side.id] = other
                return True
        return False
    if op in (ast.Gt, ast.GtE):
        left, right, lhs, rhs = right, left, rhs, lhs
        op = ast.Lt if op is ast.Gt else ast.LtE
    if op not in (ast.Lt, ast.LtE):
        return False
    # Lower what the smaller side adds (largest first). The larger side is never raised: it
    # is a total that other rules settle (members_end), and a given value stays wrong.
    excess = lhs - rhs + (1 if op is ast.Lt else 0)
    return _lower(_signed_names(left, 1), excess, values, free)


def _lower(names: list[str], amount: Any, values: dict[str, Any], free: set[str]) -> bool:
    """Take ``amount`` off the free ``names`` (largest first, none below 0)."""
    changed = False
    for name in sorted((n for n in names if n in free), key=lambda n: -values.get(n, 0)):
        cut = min(amount, values.get(name) or 0)
        if cut > 0:
            values[name] -= cut
            amount -= cut
            changed = True
        if amount <= 0:
            break
    return changed


def _signed_names(node: ast.expr, sign: int) -> list[str]:
    """The names that count with ``sign`` in a sum or difference (``a + b - c``)."""
    if isinstance(node, ast.Name):
        return [node.id] if sign > 0 else []
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add | ast.Sub):
        right_sign = sign if isinstance(node.op, ast.Add) else -sign
        return _signed_names(node.left, sign) + _signed_names(node.right, right_sign)
    return []


def _value(node: ast.expr, scope: dict[str, Any]) -> Any:
    return Expr(ast.unparse(node))(scope)
