"""Safe, fast expressions for the form's rules and derived figures.

The secretary writes ``members_end == members_start + admitted - deceased`` or
``previous is none or members_start == previous.members_end`` in form.toml. The text is
parsed with Python's ``ast`` and only a small whitelist of node kinds is accepted (numbers,
strings, names, arithmetic, comparisons, and/or/not, if-else, a.b as a key lookup and
min/max/abs/round); it is then turned into a tree of closures. Nothing is ever passed to
``eval``, and no attribute of a Python object is reachable. The syntax is the common part
of Python and Jinja expressions (``none``/``true``/``false`` are accepted too).
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable, Mapping
from typing import Any

from tonghop.errors import ExprError

__all__ = ["Expr"]

Scope = Mapping[str, Any]
Node = Callable[[Scope], Any]

_CONSTANTS = {
    "none": None,
    "None": None,
    "true": True,
    "True": True,
    "false": False,
    "False": False,
}
_FUNCTIONS: dict[str, Callable[..., Any]] = {"min": min, "max": max, "abs": abs, "round": round}
_BINARY = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
}
_COMPARE: dict[type[ast.cmpop], Callable[[Any, Any], Any]] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.Is: operator.is_,
    ast.IsNot: operator.is_not,
    ast.In: lambda a, b: a in b,
    ast.NotIn: lambda a, b: a not in b,
}


class Expr:
    """A compiled expression: ``Expr(text)(scope)``; ``.names`` are the names it reads."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.names: set[str] = set()
        source = text.strip().replace("\n", " ")
        try:
            tree = ast.parse(source, mode="eval")
        except SyntaxError as exc:
            raise ExprError(f"biểu thức «{text}» sai cú pháp (vị trí {exc.offset}).") from None
        self._node = self._build(tree.body)

    def __call__(self, scope: Scope) -> Any:
        try:
            return self._node(scope)
        except ExprError:
            raise
        except (TypeError, ZeroDivisionError, ArithmeticError, KeyError) as exc:
            raise ExprError(f"không tính được biểu thức «{self.text}»: {exc}") from None

    # --- compiling the whitelisted tree into closures ------------------------------------
    def _build(self, node: ast.AST) -> Node:
        if isinstance(node, ast.Constant) and isinstance(node.value, int | float | str):
            value = node.value
            return lambda scope: value
        if isinstance(node, ast.Name):
            return self._name(node.id)
        if isinstance(node, ast.Attribute):
            return self._attribute(node)
        if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
            op, left, right = (
                _BINARY[type(node.op)],
                self._build(node.left),
                self._build(node.right),
            )
            return lambda scope: op(left(scope), right(scope))
        if isinstance(node, ast.UnaryOp):
            operand = self._build(node.operand)
            if isinstance(node.op, ast.Not):
                return lambda scope: not operand(scope)
            if isinstance(node.op, ast.USub):
                return lambda scope: -operand(scope)
            if isinstance(node.op, ast.UAdd):
                return lambda scope: +operand(scope)
        if isinstance(node, ast.BoolOp):
            parts = [self._build(v) for v in node.values]
            if isinstance(node.op, ast.And):
                return lambda scope: _all(parts, scope)
            return lambda scope: _any(parts, scope)
        if isinstance(node, ast.Compare) and all(type(o) in _COMPARE for o in node.ops):
            return self._compare(node)
        if isinstance(node, ast.IfExp):
            test, body, orelse = (self._build(n) for n in (node.test, node.body, node.orelse))
            return lambda scope: body(scope) if test(scope) else orelse(scope)
        if isinstance(node, ast.Call):
            return self._call(node)
        if isinstance(node, ast.Tuple | ast.List):
            items = [self._build(e) for e in node.elts]
            return lambda scope: tuple(item(scope) for item in items)
        raise ExprError(f"biểu thức «{self.text}» dùng cú pháp không được phép: {_show(node)}.")

    def _name(self, name: str) -> Node:
        if name in _CONSTANTS:
            constant = _CONSTANTS[name]
            return lambda scope: constant
        if name.startswith("_"):
            raise ExprError(f"tên «{name}» không được phép trong biểu thức.")
        self.names.add(name)

        def lookup(scope: Scope) -> Any:
            if name not in scope:
                raise ExprError(f"không có trường «{name}».")
            return scope[name]

        return lookup

    def _attribute(self, node: ast.Attribute) -> Node:
        if node.attr.startswith("_"):
            raise ExprError(f"thuộc tính «{node.attr}» không được phép trong biểu thức.")
        base, key = self._build(node.value), node.attr

        def get(scope: Scope) -> Any:
            container = base(scope)
            if not isinstance(container, Mapping):
                raise ExprError(f"«{key}» chỉ dùng được sau một bản ghi (ví dụ previous.{key}).")
            if key not in container:
                raise ExprError(f"bản ghi không có «{key}».")
            return container[key]

        return get

    def _compare(self, node: ast.Compare) -> Node:
        first = self._build(node.left)
        ops = [_COMPARE[type(o)] for o in node.ops]
        rest = [self._build(c) for c in node.comparators]

        def compare(scope: Scope) -> bool:
            left = first(scope)
            for op, right_node in zip(ops, rest, strict=True):
                right = right_node(scope)
                if not op(left, right):
                    return False
                left = right
            return True

        return compare

    def _call(self, node: ast.Call) -> Node:
        if not isinstance(node.func, ast.Name) or node.func.id not in _FUNCTIONS or node.keywords:
            raise ExprError(
                f"biểu thức «{self.text}» chỉ được gọi các hàm {', '.join(sorted(_FUNCTIONS))}."
            )
        func = _FUNCTIONS[node.func.id]
        args = [self._build(a) for a in node.args]
        return lambda scope: func(*(a(scope) for a in args))


def _all(parts: list[Node], scope: Scope) -> Any:
    value: Any = True
    for part in parts:
        value = part(scope)
        if not value:
            return value
    return value


def _any(parts: list[Node], scope: Scope) -> Any:
    value: Any = False
    for part in parts:
        value = part(scope)
        if value:
            return value
    return value


def _show(node: ast.AST) -> str:
    try:
        return ast.unparse(node)
    except Exception:  # pragma: no cover - unparse handles every node ast.parse makes
        return type(node).__name__
