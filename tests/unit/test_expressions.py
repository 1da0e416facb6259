"""Tests for joelclaw.expressions: the CEL-like language of filters, keys and event matches."""

from __future__ import annotations

import dataclasses
import pickle
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from joelclaw.expressions import (
    MAX_DEPTH,
    MAX_LENGTH,
    Expression,
    ExpressionError,
    compile_expression,
    evaluate,
)

NAMES = frozenset({"event", "async"})
EVENT: dict[str, Any] = {
    "name": "billing/invoice.paid",
    "data": {
        "user_id": "u-42",
        "a": "left",
        "b": 7,
        "amount": 150,
        "account_type": "enterprise",
        "labels": ["inbox", "todoist"],
        "items": [10, 20, 30],
        "flag": False,
        "weird-key": "w",
        "reminderId": "rem-1",
        "nested": {"none": None},
    },
}
VARS: dict[str, Any] = {"event": EVENT, "async": {"data": {"reminderId": "rem-1"}}}


def run(source: str, variables: dict[str, Any] | None = None) -> Any:
    """Compiles with the usual roots and evaluates against the sample event."""
    return compile_expression(source, names=NAMES).evaluate(
        VARS if variables is None else variables
    )


def error(source: str, names: frozenset[str] | None = NAMES) -> str:
    with pytest.raises(ExpressionError) as info:
        compile_expression(source, names=names)
    return str(info.value)


# --- the examples from the brief --------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("event.data.user_id", "u-42"),
        ('event.data.a + "-" + event.data.b', "left-7"),
        ('event.data.amount > 100 && event.name == "billing/invoice.paid"', True),
        ("async.data.reminderId == event.data.reminderId", True),
        ("event.data.account_type == 'enterprise' ? 120 : 0", 120),
        ("'\"openai\"'", '"openai"'),
        ('"todoist" in event.data.labels', True),
        ("size(event.data.items) >= 2 || !event.data.flag", True),
        ('event.data["weird-key"]', "w"),
        ("event.data.items[0]", 10),
    ],
)
def test_brief_examples(source: str, expected: Any) -> None:
    assert run(source) == expected


def test_examples_with_other_data() -> None:
    other = {"event": {"name": "x/y", "data": {"amount": 5, "account_type": "free", "flag": True}}}
    assert run('event.data.amount > 100 && event.name == "billing/invoice.paid"', other) is False
    assert run("event.data.account_type == 'enterprise' ? 120 : 0", other) == 0
    assert run("size(event.data.items) >= 2 || !event.data.flag", other) is False
    assert run('"todoist" in event.data.labels', other) is False
    assert run("async.data.reminderId == event.data.reminderId", other) is True  # null == null


# --- precedence and associativity -------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("1 + 2 * 3", 7),
        ("(1 + 2) * 3", 9),
        ("10 - 4 - 3", 3),
        ("2 * 3 % 4", 2),
        ("-2 * 3", -6),
        ("--2", 2),
        ("1 < 2 == true", True),
        ("!true || true", True),
        ("true || false && false", True),
        ("(true || false) && false", False),
        ("false ? 1 : 2 + 3", 5),
        ("true ? false ? 1 : 2 : 3", 2),
        ("false ? 1 : true ? 2 : 3", 2),
        ("1 + 2 in [3]", True),
        ('"a" + "b" == "ab"', True),
        ("1 == 1 && 2 != 3", True),
        ("!event.data.flag && event.data.b > 5", True),
        ("event.data.items[1] * 2 + 1", 41),
    ],
)
def test_precedence(source: str, expected: Any) -> None:
    assert run(source) == expected


# --- literals -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("42", 42),
        ("2.5", 2.5),
        ("1e3", 1000.0),
        ("'single'", "single"),
        ('"double"', "double"),
        (r'"tab\there\nnewline \\ \' \""', "tab\there\nnewline \\ ' \""),
        ("true", True),
        ("false", False),
        ("null", None),
        ("[1, 'a', [true]]", [1, "a", [True]]),
        ("[]", []),
        ("[1, 2,]", [1, 2]),
    ],
)
def test_literals(source: str, expected: Any) -> None:
    value = run(source)
    assert value == expected and type(value) is type(expected)


# --- safe access ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "source",
    [
        "event.data.missing",
        "event.data.missing.deeper.still",
        "event.data.nested.none.x",
        "event.data.items[3]",
        "event.data.items[-1]",
        "event.data.items['0']",
        "event.data.items[0.0]",
        "event.data.amount.x",
        "event.data.user_id[0]",
        "event.data[event.data.items]",
        "event.__class__",
        "async.data.missing[0].x",
    ],
)
def test_missing_values_are_null(source: str) -> None:
    assert run(source) is None


def test_access_never_reaches_python_attributes() -> None:
    assert evaluate("x.__class__", {"x": object()}) is None
    assert evaluate("x.real", {"x": 3}) is None
    assert evaluate("event.data", {}) is None
    assert compile_expression("event").evaluate({"nope": 1}) is None


def test_keywords_and_function_names_work_as_field_names() -> None:
    data = {"event": {"data": {"in": 1, "true": 2, "size": 3, "null": 4}}}
    assert run("event.data.in + event.data.true + event.data.size + event.data.null", data) == 10


def test_dynamic_index() -> None:
    assert run("event.data.items[event.data.items[0] / 10]") == 20
    assert run('event.data["weird" + "-key"]') == "w"


# --- operators --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ('"n=" + 3', "n=3"),
        ('"n=" + 2.5', "n=2.5"),
        ('"flag=" + true', "flag=true"),
        ('"x" + null + "y"', "xy"),
        ('"list=" + [1, "a"]', 'list=[1,"a"]'),
        ("[1] + [2, 3]", [1, 2, 3]),
        ("1 + 2.5", 3.5),
        ("1 + true", None),
        ("null + 1", None),
        ("[1] + 1", None),
        ("7 / 2", 3.5),
        ("6 / 2", 3),
        ("1 / 0", None),
        ("1.5 / 0", None),
        ("7 % 0", None),
        ("7 % 3", 1),
        ('"a" * 3', None),
        ('-"a"', None),
        ("-true", None),
        ("5 - null", None),
    ],
)
def test_arithmetic(source: str, expected: Any) -> None:
    assert run(source) == expected


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("1 == 1.0", True),
        ("true == 1", False),
        ("false == 0", False),
        ("[1, true] == [1, true]", True),
        ("[true] == [1]", False),
        ('"1" == 1', False),
        ("null == null", True),
        ("null != 0", True),
        ("null < 3", False),
        ("null >= 3", False),
        ('"a" < 1', False),
        ('"a" < "b"', True),
        ("2 <= 2.0", True),
        ("[1] < [2]", False),
        ("false < true", True),
        ("true > 0", False),
    ],
)
def test_comparisons(source: str, expected: Any) -> None:
    assert run(source) is expected


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ('"todo" in "todoist"', True),
        ('"x" in "todoist"', False),
        ('"amount" in event.data', True),
        ('"nope" in event.data', False),
        ('"none" in event.data.nested', True),
        ("1 in [1.0, 2]", True),
        ("true in [1]", False),
        ("[1] in [[1], 2]", True),
        ("1 in 123", False),
        ("1 in null", False),
        ("[1] in event.data", False),
    ],
)
def test_in(source: str, expected: Any) -> None:
    assert run(source) is expected


def test_logic_returns_booleans_and_short_circuits() -> None:
    assert run('"a" && 1') is True
    assert run('"" || 0') is False
    assert run("[] || [1]") is True
    assert run("!null") is True
    assert run("!event.data.items") is False
    assert run("false && 1 / 0 == 1") is False
    assert run("null || null || 'x'") is True
    assert run("1 && 1 && null") is False


# --- functions --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("size(event.data.items)", 3),
        ("size('abc')", 3),
        ("size(event.data)", len(EVENT["data"])),
        ("size(3)", None),
        ("string(12)", "12"),
        ("string(null)", ""),
        ("string(false)", "false"),
        ("string('s')", "s"),
        ("int('42')", 42),
        ("int(' 7 ')", 7),
        ("int(2.9)", 2),
        ("int('x')", None),
        ("int(true)", None),
        ("int(null)", None),
        ("float('1.5')", 1.5),
        ("float(2)", 2.0),
        ("float([])", None),
        ("lower('AbC')", "abc"),
        ("upper('AbC')", "ABC"),
        ("lower(1)", None),
        ("startsWith(event.name, 'billing/')", True),
        ("endsWith(event.name, '.paid')", True),
        ("startsWith(event.name, 1)", None),
        ("contains('todoist', 'do')", True),
        ("contains(event.data.labels, 'todoist')", True),
        ("contains(5, 'x')", None),
        ("has(event.data.user_id)", True),
        ("has(event.data.missing)", False),
        ("has(event.data.flag)", True),
    ],
)
def test_functions(source: str, expected: Any) -> None:
    assert run(source) == expected


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("event.name.startsWith('billing/')", True),
        ("event.name.endsWith('.sent')", False),
        ("event.data.user_id.contains('42')", True),
        ("event.data.a.upper()", "LEFT"),
        ("'ABC'.lower()", "abc"),
        ("event.data.items.size()", 3),
        ("event.data.a.upper().lower().size()", 4),
        ("event.data.missing.lower()", None),
        ("size(event.data.items)[0]", None),
    ],
)
def test_method_calls(source: str, expected: Any) -> None:
    assert run(source) == expected


# --- errors -----------------------------------------------------------------------------------


def test_unknown_name() -> None:
    message = error("evnt.data.x", names=frozenset({"event"}))
    assert message.startswith("unknown name 'evnt' at column 1 in 'evnt.data.x'")
    assert message.endswith("expected one of: event")


def test_names_none_allows_any_root() -> None:
    assert compile_expression("anything.at.all").evaluate({"anything": {"at": {"all": 1}}}) == 1


def test_unknown_function() -> None:
    message = error("event.data.x + sizeof(event.data)")
    assert message.startswith("unknown function 'sizeof' at column 16 in")
    assert "size" in message
    assert "unknown function 'trim'" in error("event.data.a.trim()")


@pytest.mark.parametrize(
    ("source", "fragment"),
    [
        ('"abc', "unterminated string at column 1 in '\"abc'"),
        ("event.data.x == 'abc", "unterminated string at column 17"),
        ('"abc\\', "unterminated string at column 1"),
        ("event.data.x )", "unexpected ')' at column 14 in 'event.data.x )'"),
        ("event.data.x event", "unexpected 'event' at column 14"),
        ("1 2", "unexpected '2' at column 3"),
        ("", "empty expression at column 1 in ''"),
        ("   ", "empty expression"),
        ("1 +", "unexpected end of expression at column 4 in '1 +'"),
        ("(1", "expected ')'"),
        ("event.", "expected a field name after '.'"),
        ("event.data[1", "expected ']'"),
        ("[1, 2", "expected ',' or ']'"),
        ("a ? b", "expected ':'"),
        ("a & b", "unexpected character '&' at column 3 in 'a & b'; did you mean '&&'?"),
        ("a | b", "did you mean '||'?"),
        ("a = b", "did you mean '=='?"),
        ("a @ b", "unexpected character '@'"),
        ('"\\q"', "unknown escape '\\q' at column 2"),
        ("size(1, 2)", "size() takes 1 argument, got 2 at column 1"),
        ("startsWith('a')", "startsWith() takes 2 arguments, got 1"),
        ("event.name.startsWith()", "x.startsWith() takes 1 argument, got 0"),
        ("event.data.a.lower(1)", "x.lower() takes 0 arguments, got 1"),
        ("in", "unexpected 'in'"),
        ("(a)(b)", "unexpected '('"),
        ("a..b", "unexpected '.'"),
    ],
)
def test_syntax_errors(source: str, fragment: str) -> None:
    assert fragment in error(source, names=None)


def test_too_long() -> None:
    assert len(compile_expression("1" + " " * (MAX_LENGTH - 1)).source) == MAX_LENGTH
    message = error("1" + " " * MAX_LENGTH)
    assert message.startswith(f"expression too long ({MAX_LENGTH + 1} characters, limit")
    assert len(message) < 200  # the quoted source is shortened


def test_too_deep() -> None:
    assert run("(" * MAX_DEPTH + "1" + ")" * MAX_DEPTH) == 1
    assert "nested too deeply" in error("(" * (MAX_DEPTH + 1) + "1" + ")" * (MAX_DEPTH + 1))
    assert "nested too deeply" in error("!" * (MAX_DEPTH + 1) + "true")
    assert "nested too deeply" in error("[" * (MAX_DEPTH + 1))


def test_long_flat_chains_are_not_deep() -> None:
    assert run("+".join(["1"] * 500)) == 500
    assert run("&&".join(["1"] * 333)) is True
    assert run("||".join(["0"] * 333)) is False
    assert run("event" + ".data" * 150) is None


def test_error_is_a_value_error_with_details() -> None:
    with pytest.raises(ValueError) as info:
        compile_expression("event.data.x )")
    assert isinstance(info.value, ExpressionError)
    assert info.value.column == 14 and info.value.source == "event.data.x )"


def test_non_string_source() -> None:
    with pytest.raises(ExpressionError, match="must be a string"):
        compile_expression(42)  # type: ignore[arg-type]


# --- the Expression object --------------------------------------------------------------------


def test_expression_object() -> None:
    expr = compile_expression("event.data.user_id", names=NAMES)
    assert isinstance(expr, Expression)
    assert expr.source == "event.data.user_id"
    assert repr(expr) == "Expression('event.data.user_id')"
    with pytest.raises(dataclasses.FrozenInstanceError):
        expr.source = "other"  # type: ignore[misc]
    assert expr == compile_expression("event.data.user_id")
    assert hash(expr) == hash(compile_expression("event.data.user_id"))
    assert pickle.loads(pickle.dumps(expr)).evaluate(VARS) == "u-42"


def test_evaluate_convenience() -> None:
    assert evaluate("x + 1", {"x": 1}) == 2
    assert evaluate("x + 1", {"x": 41}) == 42
    with pytest.raises(ExpressionError):
        evaluate("x +", {"x": 1})


def test_evaluation_with_odd_variables_does_not_raise() -> None:
    expr = compile_expression("event.data.x == 1 || size(event) > 0")
    assert expr.evaluate({}) is False
    assert expr.evaluate(None) is False  # type: ignore[arg-type]
    assert expr.evaluate({"event": [1, 2]}) is True


# --- properties -------------------------------------------------------------------------------

SOURCE_CHARS = st.text(
    alphabet=st.sampled_from(list("event.data[]()'\"\\!?:-+*/%<>=&|, 0123456789_abcxyz\n")),
    max_size=60,
)


@given(st.one_of(st.text(max_size=80), SOURCE_CHARS))
@settings(max_examples=400, deadline=None)
def test_compile_arbitrary_text_only_raises_expression_error(source: str) -> None:
    try:
        expr = compile_expression(source, names=NAMES)
    except ExpressionError as exc:
        assert "column" in str(exc)
        return
    assert isinstance(expr, Expression)


ATOMS = st.sampled_from(
    [
        "event",
        "event.data",
        "event.data.a",
        "event.data.items",
        "event.data['k']",
        "event.data.items[0]",
        "event.name",
        "async.data.x",
        "1",
        "0",
        "2.5",
        "1e308",
        "''",
        "'a'",
        '"x-y"',
        "true",
        "false",
        "null",
        "[1, 'a', null]",
        "[]",
    ]
)
BINARY_OPS = ["||", "&&", "==", "!=", "<", "<=", ">", ">=", "in", "+", "-", "*", "/", "%"]
FUNCTIONS_1 = ["size", "string", "int", "float", "lower", "upper", "has"]
FUNCTIONS_2 = ["startsWith", "endsWith", "contains"]
FIELDS = ["a", "k", "items", "data", "x"]


def _compound(kids: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.tuples(kids, st.sampled_from(BINARY_OPS), kids).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        st.tuples(st.sampled_from(["!", "-"]), kids).map(lambda t: f"{t[0]}{t[1]}"),
        st.tuples(kids, kids, kids).map(lambda t: f"({t[0]} ? {t[1]} : {t[2]})"),
        st.tuples(st.sampled_from(FUNCTIONS_1), kids).map(lambda t: f"{t[0]}({t[1]})"),
        st.tuples(st.sampled_from(FUNCTIONS_2), kids, kids).map(
            lambda t: f"{t[0]}({t[1]}, {t[2]})"
        ),
        st.tuples(kids, st.sampled_from(FUNCTIONS_2), kids).map(
            lambda t: f"({t[0]}).{t[1]}({t[2]})"
        ),
        st.tuples(kids, st.sampled_from(FIELDS)).map(lambda t: f"({t[0]}).{t[1]}"),
        st.tuples(kids, kids).map(lambda t: f"({t[0]})[{t[1]}]"),
        st.lists(kids, max_size=3).map(lambda xs: "[" + ", ".join(xs) + "]"),
    )


EXPRESSIONS = st.recursive(ATOMS, _compound, max_leaves=10)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=4),
    lambda kids: (
        st.lists(kids, max_size=4)
        | st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=3), kids, max_size=4)
    ),
    max_leaves=12,
)
EVENTS = st.fixed_dictionaries(
    {"name": st.text(max_size=8), "data": st.dictionaries(st.sampled_from(FIELDS), JSON)}
)


@given(EXPRESSIONS, st.one_of(EVENTS, JSON), JSON)
@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_evaluating_generated_expressions_never_raises(source: str, event: Any, other: Any) -> None:
    try:
        expr = compile_expression(source, names=NAMES)
    except ExpressionError as exc:  # the generator can nest past the limit; nothing else may fail
        assert "too deeply" in str(exc)
        return
    expr.evaluate({"event": event, "async": other})
