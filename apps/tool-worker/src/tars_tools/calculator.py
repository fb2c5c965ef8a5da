"""A safe calculator: expressions are parsed with ``ast`` and walked; nothing is ever eval'd."""

from __future__ import annotations

import ast
import math
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass

from tars_tools.errors import CalculatorError

Number = int | float

_BINARY: dict[type[ast.operator], Callable[[Number, Number], Number]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
    ast.Div: operator.truediv, ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_UNARY: dict[type[ast.unaryop], Callable[[Number], Number]] = {
    ast.UAdd: operator.pos, ast.USub: operator.neg,
}
FUNCTIONS: dict[str, Callable[..., Number]] = {
    "sqrt": math.sqrt, "abs": abs, "round": round, "floor": math.floor, "ceil": math.ceil,
    "sin": math.sin, "cos": math.cos, "tan": math.tan, "asin": math.asin, "acos": math.acos,
    "atan": math.atan, "exp": math.exp, "ln": math.log, "log": math.log, "log10": math.log10,
    "log2": math.log2, "min": min, "max": max, "hypot": math.hypot,
    "radians": math.radians, "degrees": math.degrees, "factorial": math.factorial,
}
CONSTANTS: dict[str, float] = {"pi": math.pi, "e": math.e, "tau": math.tau}
_PERCENT = re.compile(r"(\d+(?:\.\d*)?|\.\d+)\s*(?:%|percent\b)(?!\s*(?:[\d.(]|(?!of\b)[a-z]))",
                      re.IGNORECASE)
"""A number followed by ``%`` (or "percent") and no operand: a percentage, ``15%`` = 0.15."""
_OF = re.compile(r"\bof\b", re.IGNORECASE)
_SYNTAX_NAMES = {
    ast.Attribute: "attribute access", ast.Subscript: "indexing", ast.Lambda: "lambda",
    ast.Compare: "comparisons", ast.BoolOp: "boolean logic", ast.IfExp: "conditionals",
    ast.ListComp: "comprehensions", ast.GeneratorExp: "comprehensions", ast.List: "lists",
    ast.Tuple: "tuples", ast.Dict: "dicts", ast.Set: "sets", ast.JoinedStr: "strings",
    ast.NamedExpr: "assignment", ast.Starred: "unpacking", ast.Await: "await",
}


@dataclass(frozen=True, slots=True)
class CalculatorLimits:
    """Bounds that keep evaluation cheap: input size, nesting, and the size of numbers."""

    max_chars: int = 256
    max_nodes: int = 100
    max_exponent: int = 10_000
    max_int_digits: int = 300
    max_factorial: int = 170


class Calculator:
    """Evaluate arithmetic: numbers, ``+ - * / // % **`` (``^`` means power), parentheses,
    unary minus, the functions in :data:`FUNCTIONS` and the constants ``pi``, ``e``, ``tau``.
    Percentages read as people write them: ``15% of 80`` and ``80 * 15%`` are 12, while
    ``7 % 3`` (an operand follows) stays the remainder.

    :meth:`evaluate` raises :class:`CalculatorError` with a readable message for anything
    else (names, attribute access, calls of unknown functions, huge results, division by zero).
    """

    def __init__(self, limits: CalculatorLimits | None = None) -> None:
        self.limits = limits or CalculatorLimits()

    def evaluate(self, expression: str) -> Number:
        """The value of ``expression``."""
        text = expression.strip().replace("^", "**").replace("×", "*").replace("÷", "/")
        text = _OF.sub("*", _PERCENT.sub(r"(\1/100)", text))
        if not text:
            raise CalculatorError("empty expression")
        if len(text) > self.limits.max_chars:
            raise CalculatorError(f"expression longer than {self.limits.max_chars} characters")
        try:
            tree = ast.parse(text, mode="eval")
        except SyntaxError as exc:
            raise CalculatorError(f"not a valid expression: {exc.msg}") from None
        if sum(1 for _ in ast.walk(tree)) > self.limits.max_nodes:
            raise CalculatorError("expression is too complex")
        try:
            return self._check(self._eval(tree.body))
        except ZeroDivisionError:
            raise CalculatorError("division by zero") from None
        except OverflowError:
            raise CalculatorError("result is too large") from None
        except (ValueError, TypeError) as exc:
            raise CalculatorError(f"math error: {exc}") from None

    def format(self, value: Number) -> str:
        """A short human form: integers as is, floats to 12 significant digits."""
        if isinstance(value, float):
            if value.is_integer() and abs(value) < 1e15:
                return str(int(value))
            return f"{value:.12g}"
        return str(value)

    def _eval(self, node: ast.expr) -> Number:
        if isinstance(node, ast.Constant):
            if isinstance(node.value, bool) or not isinstance(node.value, int | float):
                raise CalculatorError(f"unsupported literal {node.value!r}")
            return node.value
        if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
            left, right = self._eval(node.left), self._eval(node.right)
            if isinstance(node.op, ast.Pow):
                self._check_power(left, right)
            return self._check(_BINARY[type(node.op)](left, right))
        if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
            return _UNARY[type(node.op)](self._eval(node.operand))
        if isinstance(node, ast.Name):
            if node.id in CONSTANTS:
                return CONSTANTS[node.id]
            raise CalculatorError(f"unknown name {node.id!r}")
        if isinstance(node, ast.Call):
            return self._call(node)
        what = _SYNTAX_NAMES.get(type(node), type(node).__name__)
        if isinstance(node, ast.BinOp):
            what = f"operator {type(node.op).__name__}"
        raise CalculatorError(f"unsupported syntax: {what}")

    def _call(self, node: ast.Call) -> Number:
        if not isinstance(node.func, ast.Name):
            raise CalculatorError("unsupported syntax: only plain function calls are allowed")
        name = node.func.id
        if name not in FUNCTIONS:
            raise CalculatorError(f"unknown function {name!r}")
        if node.keywords:
            raise CalculatorError("keyword arguments are not supported")
        args = [self._eval(arg) for arg in node.args]
        if name == "factorial" and args and (not isinstance(args[0], int)
                                             or args[0] > self.limits.max_factorial):
            raise CalculatorError(f"factorial needs an integer <= {self.limits.max_factorial}")
        return self._check(FUNCTIONS[name](*args))

    def _check_power(self, base: Number, exponent: Number) -> None:
        if abs(exponent) > self.limits.max_exponent:
            raise CalculatorError(f"exponent larger than {self.limits.max_exponent}")
        if isinstance(base, int) and isinstance(exponent, int) and abs(base) > 1 and exponent > 0:
            digits = exponent * math.log10(abs(base))
            if digits > self.limits.max_int_digits:
                raise CalculatorError(f"result would have about {int(digits)} digits")

    def _check(self, value: Number) -> Number:
        if isinstance(value, complex):
            raise CalculatorError("result is not a real number")
        if isinstance(value, int) and value.bit_length() > self.limits.max_int_digits * 3.33:
            raise CalculatorError("result is too large")
        if isinstance(value, float) and math.isnan(value):
            raise CalculatorError("result is not a number")
        if isinstance(value, float) and math.isinf(value):
            raise CalculatorError("result is too large")
        return value
