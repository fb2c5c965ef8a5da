"""The safe calculator: arithmetic is right, everything else is refused with a clear error."""

from __future__ import annotations

import math

import pytest

from tars_tools.calculator import Calculator, CalculatorLimits
from tars_tools.errors import CalculatorError, ToolExecutionError

CALC = Calculator()


@pytest.mark.parametrize(
    ("expression", "expected"),
    [("2 + 3 * 4", 14), ("(2 + 3) * 4", 20), ("2 ** 3 ** 2", 512), ("-2 ** 2", -4),
     ("(-2) ** 2", 4), ("7 / 2", 3.5), ("7 // 2", 3), ("-7 // 2", -4), ("7 % 3", 1),
     ("2 ^ 10", 1024), ("6 × 7", 42), ("9 ÷ 3", 3.0), ("--3", 3), ("+5", 5),
     ("sqrt(16) + abs(-2)", 6.0), ("round(2.567, 2)", 2.57), ("max(1, 9, 4)", 9),
     ("factorial(5)", 120), ("log10(1000)", 3.0), ("1e3 + 0.5", 1000.5),
     ("2 * pi", 2 * math.pi), ("floor(e)", 2), ("10 - 4 - 3", 3), ("2 ** -1", 0.5),
     ("15% of 80", 12), ("15 % of 80", 12), ("80 * 15%", 12), ("15 percent of 80", 12),
     ("(15%) * 80", 12), ("12.5% * 8", 1), ("7 %3", 1), ("7 % (3)", 1)],
)
def test_values(expression: str, expected: float) -> None:
    assert CALC.evaluate(expression) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("expression", "message"),
    [("__import__('os')", "unknown function '__import__'"),
     ("(1).__class__", "attribute access"),
     ("x + 1", "unknown name 'x'"),
     ("open('f')", "unknown function 'open'"),
     ("math.sqrt(4)", "only plain function calls"),
     ("[1, 2]", "lists"),
     ("'a' * 3", "unsupported literal"),
     ("1 if 1 else 2", "conditionals"),
     ("1 < 2", "comparisons"),
     ("(x := 3)", "assignment"),
     ("lambda: 1", "lambda"),
     ("1 / 0", "division by zero"),
     ("5 % 0", "division by zero"),
     ("9 ** 9 ** 9", "exponent larger than"),
     ("10 ** 5000", "digits"),
     ("2.0 ** 5000", "too large"),
     ("factorial(1000)", "factorial needs an integer"),
     ("sqrt(-1)", "math error"),
     ("(-8) ** 0.5", "not a real number"),
     ("1 << 2", "operator LShift"),
     ("True + 1", "unsupported literal"),
     ("2 +", "not a valid expression"),
     ("", "empty expression"),
     ("1+" * 200 + "1", "longer than"),
     ("sqrt(x=4)", "keyword arguments"),
     ("15% of", "not a valid expression"),
     ("half of 80", "unknown name 'half'")],
)
def test_refusals(expression: str, message: str) -> None:
    with pytest.raises(CalculatorError) as caught:
        CALC.evaluate(expression)
    assert message in str(caught.value)
    assert isinstance(caught.value, ToolExecutionError)


def test_repeated_products_are_bounded() -> None:
    with pytest.raises(CalculatorError, match="too large"):
        CALC.evaluate("99999999999 ** 27 * 99999999999 ** 27")


def test_node_limit() -> None:
    calc = Calculator(CalculatorLimits(max_nodes=10))
    with pytest.raises(CalculatorError, match="too complex"):
        calc.evaluate("1 + 2 + 3 + 4 + 5 + 6")


@pytest.mark.parametrize(("value", "text"), [(14, "14"), (3.5, "3.5"), (2.0, "2"),
                                             (1 / 3, "0.333333333333"), (1e20, "1e+20")])
def test_format(value: float, text: str) -> None:
    assert CALC.format(value) == text
