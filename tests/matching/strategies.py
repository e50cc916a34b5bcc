"""Shared hypothesis strategies and brute-force references for the matching tests.

The references here are deliberately naive: they evaluate expressions, blocking rules, comparison
levels and clusters one row or one pair at a time in plain Python, so the vectorised engine can
be checked against them.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from datetime import date

import numpy as np
import numpy.typing as npt
from hypothesis import strategies as st

from crmcore.matching import (
    EXPRESSION_FUNCTIONS,
    AllOf,
    BlockingRule,
    BlockOn,
    Comparison,
    CrossExactLevel,
    DateDiffLevel,
    ExactLevel,
    Expression,
    Frame,
    InitialLevel,
    Level,
    NumericLevel,
    ScoredPairs,
    SimilarityLevel,
    SortedNeighbourhood,
    SwappedLevel,
    parse_expression,
)
from crmcore.matching._functions import MULTI_VALUED_FUNCTIONS

__all__ = [
    "CITIES",
    "COMPANIES",
    "DATES",
    "DEFAULT_COLUMNS",
    "EMAILS",
    "GIVEN",
    "NUMBERS",
    "PHONES",
    "POSTCODES",
    "SURNAMES",
    "blocking_rules",
    "comparisons",
    "frame_of",
    "naive_agree",
    "naive_block",
    "naive_components",
    "naive_level",
    "naive_made_of",
    "naive_raw_count",
    "naive_rule_pairs",
    "naive_rule_used",
    "naive_value",
    "naive_values",
    "pairs_of",
    "records",
    "scored_pairs",
]

IntArray = npt.NDArray[np.int64]
Row = Mapping[str, str | None]

#: Small vocabularies, so that random records collide often (blocks are not all singletons).
GIVEN = ["Ann", "Anne", "ann", "Bob", "Robert", "Rob", "Bobby", "Jon", "John", "J", "A", "Zoë", ""]
SURNAMES = ["Lee", "Li", "Smith", "Smyth", "Schmidt", "O'Neil", "Oneil", "van Dijk", "Dijk"]
EMAILS = [
    "ann.lee@acme.io", "annlee@acme.io", "ann.lee+crm@globex.io", "bob@acme.io",
    "Bob@Acme.io", "robert.smith@initech.io", "no-at-sign", "@acme.io", "lee.ann@globex.io",
    "jsmith@acme.io", "bob.smith7@globex.io",
]
PHONES = ["+44 20 7946 0001", "020 7946 0001", "020 7946 0002", "0161 496 0999", "12", "n/a",
          "+442079460001;ext=12", "+442079460001;ext=13"]
CITIES = ["London", "london", "Londres", "Leeds", "Leeds ", "Paris", "São Paulo", "Sao Paulo"]
DATES = ["1980-01-31", "1980-02-01", "1980-01-13", "1981-01-31", "1990-06-15", "1980-13-01",
         "31/01/1980", "2001-01-01"]
NUMBERS = ["1", "1.0", "1.05", "2", "100", "1,000", "999.5", "-3", "abc"]
COMPANIES = ["Acme Ltd", "ACME Limited", "Acme", "IBM", "International Business Machines",
             "Bank of the West", "West Bank", "Globex Corporation", "Globex Corp."]
POSTCODES = ["SW1A 1AA", "SW1A 1AB", "SW1 1AA", "LS1 4DY", "75001", "75010"]

COLUMNS: dict[str, list[str]] = {
    "first_name": GIVEN,
    "last_name": SURNAMES,
    "email": EMAILS,
    "phone": PHONES,
    "city": CITIES,
    "dob": DATES,
    "amount": NUMBERS,
    "company": COMPANIES,
    "postcode": POSTCODES,
}
#: Columns of generated records unless others are asked for.
DEFAULT_COLUMNS = ["first_name", "last_name", "email", "phone", "city", "dob", "amount"]


def _value(choices: Sequence[str]) -> st.SearchStrategy[str | None]:
    return st.one_of(st.none(), st.sampled_from(list(choices)))


def records(
    min_size: int = 0, max_size: int = 18, columns: Sequence[str] | None = None
) -> st.SearchStrategy[list[dict[str, str | None]]]:
    """Lists of records over the small vocabularies (missing values included)."""
    names = list(columns) if columns is not None else DEFAULT_COLUMNS
    row = st.fixed_dictionaries({name: _value(COLUMNS[name]) for name in names})
    return st.lists(row, min_size=min_size, max_size=max_size)


def frame_of(
    rows: Sequence[Row], columns: Sequence[str] | None = None, apart: Sequence[str] = ()
) -> Frame:
    """A frame of the records (``""`` is kept as a value; ``None`` is missing); ``apart``:
    expressions coded apart."""
    extra = sorted({k for r in rows for k in r} - set(DEFAULT_COLUMNS))
    names = list(columns) if columns is not None else DEFAULT_COLUMNS + extra
    return Frame({name: [r.get(name) for r in rows] for name in names}, apart=apart)


# -- expressions --------------------------------------------------------------------------------


def naive_value(expression: str | Expression, row: Row) -> str | None:
    """The value of a single-valued expression for one record, computed directly."""
    expr = parse_expression(expression) if isinstance(expression, str) else expression
    if expr.function is None or expr.inner is None:
        return row.get(expr.column)
    inner = naive_value(expr.inner, row)
    if inner is None:
        return None
    fn, _ = EXPRESSION_FUNCTIONS[expr.function]
    result: str | None = fn(inner) if expr.argument is None else fn(inner, expr.argument)
    return result


def naive_values(expression: str, row: Row) -> set[str]:
    """The keys of an expression for one record (a set; several for ``tokens(...)``)."""
    expr = parse_expression(expression)
    if expr.multi_valued and expr.inner is not None and expr.function is not None:
        inner = naive_value(expr.inner, row)
        return set() if inner is None else set(MULTI_VALUED_FUNCTIONS[expr.function](inner))
    value = naive_value(expr, row)
    return set() if value is None else {value}


# -- blocking -----------------------------------------------------------------------------------

SINGLE_EXPRESSIONS = [
    "first_name",
    "last_name",
    "city",
    "lower(city)",
    "prefix(last_name, 1)",
    "prefix(last_name, 3)",
    "prefix(lower(first_name), 2)",
    "metaphone(last_name)",
    "soundex(last_name)",
    "nysiis(first_name)",
    "initial(first_name)",
    "email_local(email)",
    "email_domain(email)",
    "last_digits(phone, 4)",
    "national_number(phone)",
    "switchboard(phone)",
    "phone_line(phone)",
    "line_number(phone)",
    "canonical_given(first_name)",
    "year(dob)",
]
MULTI_EXPRESSIONS = ["tokens(last_name)", "tokens(city)", "deletions(last_name)",
                     "deletions(lower(first_name))"]


@st.composite
def block_on_rules(draw: st.DrawFn) -> BlockOn:
    """A :class:`BlockOn` of one to three expressions (at most one multi-valued)."""
    exprs = draw(st.lists(st.sampled_from(SINGLE_EXPRESSIONS), min_size=1, max_size=3,
                          unique=True))
    if draw(st.booleans()) and draw(st.booleans()):
        exprs.insert(draw(st.integers(0, len(exprs))), draw(st.sampled_from(MULTI_EXPRESSIONS)))
    budget = draw(st.sampled_from([None, None, None, 0.2, 1.0, 3.0]))
    # values in any order (given and family names swapped): single-valued expressions only
    any_order = len(exprs) > 1 and not any(e in MULTI_EXPRESSIONS for e in exprs) \
        and draw(st.booleans())
    return BlockOn(tuple(exprs), max_pairs_per_record=budget, any_order=any_order)


def sorted_neighbourhood_rules() -> st.SearchStrategy[SortedNeighbourhood]:
    """A :class:`SortedNeighbourhood` over a single-valued expression."""
    return st.builds(
        SortedNeighbourhood, st.sampled_from(SINGLE_EXPRESSIONS), window=st.integers(2, 5)
    )


def blocking_rules(
    min_size: int = 1, max_size: int = 3
) -> st.SearchStrategy[list[BlockingRule]]:
    """One to three OR-ed rules, exact-key rules and sorted neighbourhoods mixed."""
    rule: st.SearchStrategy[BlockingRule] = st.one_of(
        block_on_rules(), sorted_neighbourhood_rules()
    )
    return st.lists(rule, min_size=min_size, max_size=max_size)


def naive_rule_pairs(
    rule: BlockingRule, rows: Sequence[Row], source: Sequence[int] | None = None
) -> set[tuple[int, int]]:
    """The pairs ``(i, j)``, ``i < j``, of one rule, by brute force over all pairs of rows."""
    n = len(rows)
    out: set[tuple[int, int]] = set()
    if not naive_rule_used(rule, rows):
        return out
    if isinstance(rule, BlockOn):
        for i, j in itertools.combinations(range(n), 2):
            if naive_agree(rule, rows[i], rows[j]):
                out.add((i, j))
    else:
        values = [naive_value(rule.expression, r) for r in rows]
        order = sorted((v, i) for i, v in enumerate(values) if v is not None)
        for k in range(len(order)):
            for d in range(1, rule.window):
                if k + d < len(order):
                    a, b = order[k][1], order[k + d][1]
                    out.add((min(a, b), max(a, b)))
    if source is not None:
        out = {(i, j) for i, j in out if source[i] != source[j]}
    return out


def naive_agree(rule: BlockOn, a: Row, b: Row) -> bool:
    """Whether two records share a block under an exact-key rule (the cap aside): every
    expression shares a key or, for ``any_order``, the values are the same multiset."""
    if rule.any_order:
        va = [naive_value(e, a) for e in rule.expressions]
        vb = [naive_value(e, b) for e in rule.expressions]
        return None not in va and Counter(va) == Counter(vb)
    return all(naive_values(e, a) & naive_values(e, b) for e in rule.expressions)


def naive_raw_count(rule: BlockOn, rows: Sequence[Row]) -> int:
    """Pairs an exact-key rule makes counted per shared key (a pair sharing two keys twice)."""
    counts: Counter[tuple[str, ...]] = Counter()
    for r in rows:
        keys = itertools.product(*(sorted(naive_values(e, r)) for e in rule.expressions))
        counts.update(tuple(sorted(k)) if rule.any_order else k for k in keys)
    return sum(c * (c - 1) // 2 for c in counts.values())


def naive_rule_used(rule: BlockingRule, rows: Sequence[Row]) -> bool:
    """False for an adaptive rule that would make more pairs per record than it allows."""
    budget = getattr(rule, "max_pairs_per_record", None)
    if budget is None or not isinstance(rule, BlockOn):
        return True
    return naive_raw_count(rule, rows) <= budget * max(len(rows), 1)


def naive_block(
    rules: Sequence[BlockingRule], rows: Sequence[Row], source: Sequence[int] | None = None
) -> set[tuple[int, int]]:
    """The union of the rules' pairs."""
    out: set[tuple[int, int]] = set()
    for rule in rules:
        out |= naive_rule_pairs(rule, rows, source)
    return out


# -- comparisons --------------------------------------------------------------------------------


def _similarity(metric: str, a: str, b: str) -> float:
    from rapidfuzz import distance, fuzz

    if a == b:
        return 0.0 if metric in ("levenshtein", "damerau_levenshtein") else 1.0
    scorers: dict[str, Callable[[str, str], float]] = {
        "jaro_winkler": distance.JaroWinkler.normalized_similarity,
        "jaro": distance.Jaro.normalized_similarity,
        "token_set": lambda x, y: fuzz.token_set_ratio(x, y) / 100.0,
        "token_sort": lambda x, y: fuzz.token_sort_ratio(x, y) / 100.0,
        "ratio": lambda x, y: fuzz.ratio(x, y) / 100.0,
        "levenshtein": distance.Levenshtein.distance,
        "damerau_levenshtein": distance.DamerauLevenshtein.distance,
    }
    return float(scorers[metric](a, b))


def _day(text: str) -> int | None:
    try:
        return date.fromisoformat(text.strip()[:10]).toordinal()
    except ValueError:
        return None


def _number(text: str) -> float | None:
    try:
        return float(text.replace(",", "").strip())
    except ValueError:
        return None


def naive_holds(level: Level, a: Row, b: Row) -> bool:
    """Whether one pair of records satisfies one level, computed directly."""
    if isinstance(level, ExactLevel):
        x, y = naive_value(level.expression, a), naive_value(level.expression, b)
        if x is None or x != y:
            return False
        return not level.unless_made_of or not any(
            naive_made_of(x, [naive_value(e, r) for e in level.unless_made_of]) for r in (a, b)
        )
    if isinstance(level, SimilarityLevel):
        x, y = naive_value(level.expression, a), naive_value(level.expression, b)
        if x is None or y is None:
            return False
        score = _similarity(level.metric, x, y)
        if level.metric in ("levenshtein", "damerau_levenshtein"):
            return score <= level.threshold
        return score >= level.threshold - 1e-9
    if isinstance(level, DateDiffLevel | NumericLevel):
        x, y = naive_value(level.expression, a), naive_value(level.expression, b)
        if x is None or y is None:
            return False
        if isinstance(level, DateDiffLevel):
            dx, dy = _day(x), _day(y)
            return dx is not None and dy is not None and abs(dx - dy) <= level.max_days
        nx, ny = _number(x), _number(y)
        if nx is None or ny is None:
            return False
        limit = level.tolerance * max(abs(nx), abs(ny)) if level.relative else level.tolerance
        return abs(nx - ny) <= limit
    if isinstance(level, SwappedLevel):
        fa, sa = naive_value(level.first, a), naive_value(level.second, a)
        fb, sb = naive_value(level.first, b), naive_value(level.second, b)
        if level.metric is None:
            return fa is not None and sa is not None and fa == sb and sa == fb and fa != sa
        if fa is None or sa is None or fb is None or sb is None:
            return False
        if fa in (sa, fb) or sb in (fb, sa):
            return False

        def close(x: str, y: str) -> bool:
            score = 1.0 if x == y else _similarity(level.metric, x, y)
            if level.metric in ("levenshtein", "damerau_levenshtein"):
                return (0.0 if x == y else score) <= level.threshold
            return score >= level.threshold - 1e-9

        return close(fa, sb) and close(sa, fb)
    if isinstance(level, CrossExactLevel):
        ea, oa = naive_value(level.expression, a), naive_value(level.other, a)
        eb, ob = naive_value(level.expression, b), naive_value(level.other, b)
        return (ea is not None and ea == ob) or (oa is not None and oa == eb)
    if isinstance(level, InitialLevel):
        x, y = naive_value(level.expression, a), naive_value(level.expression, b)
        ix = naive_value(f"initial({level.expression})", a)
        iy = naive_value(f"initial({level.expression})", b)
        lengths = (len(x) if x is not None else 0, len(y) if y is not None else 0)
        return ix is not None and ix == iy and 1 in lengths
    if isinstance(level, AllOf):
        return all(naive_holds(sub, a, b) for sub in level.levels)
    raise AssertionError(f"no reference for {level!r}")


def _plain(text: str) -> str:
    text = unicodedata.normalize("NFKD", text)
    return re.sub(r"[^0-9a-z]", "", "".join(c for c in text if not unicodedata.combining(c))
                  .casefold())


def naive_made_of(value: str, words: Sequence[str | None]) -> bool:
    """Every mailbox name the words make, listed, then looked up: one whole word, or two words
    in either order, each whole or its initial, at least one whole; no digit."""
    whole = [w for w in (_plain(x) for x in words if x) if w]
    forms = set(whole)
    for x, y in itertools.permutations(whole, 2):
        forms |= {x + y, x[0] + y, x + y[0]}
    plain = _plain(value)
    return plain.isalpha() and plain in forms


def naive_level(comparison: Comparison, a: Row, b: Row) -> int:
    """The level index of one pair: 0 missing, first level that holds, else the last."""
    if all(
        naive_value(e, a) is None or naive_value(e, b) is None for e in comparison.missing
    ):
        return 0
    for index, level in enumerate(comparison.levels, start=1):
        if naive_holds(level, a, b):
            return index
    return len(comparison.levels) + 1


def _levels() -> st.SearchStrategy[Level]:
    names = st.sampled_from(["first_name", "last_name", "lower(first_name)", "city"])
    similarity = st.one_of(
        st.builds(
            SimilarityLevel, names,
            st.sampled_from(["jaro_winkler", "jaro", "token_set", "token_sort", "ratio"]),
            st.sampled_from([0.6, 0.8, 0.88, 0.92, 1.0]),
        ),
        st.builds(
            SimilarityLevel, names, st.sampled_from(["levenshtein", "damerau_levenshtein"]),
            st.sampled_from([0, 1, 2]),
        ),
    )
    simple: st.SearchStrategy[Level] = st.one_of(
        st.builds(ExactLevel, st.sampled_from([
            "first_name", "last_name", "email", "canonical_given(first_name)",
            "email_local(email)", "national_number(phone)", "metaphone(last_name)",
        ])),
        st.builds(ExactLevel, st.just("email_local(email)"), tf=st.booleans(),
                  unless_made_of=st.sampled_from([("first_name", "last_name"),
                                                  ("last_name",)])),
        similarity,
        st.builds(DateDiffLevel, st.just("dob"), st.sampled_from([0, 1, 31, 366])),
        st.builds(NumericLevel, st.just("amount"), st.sampled_from([0.0, 0.05, 1.0]),
                  relative=st.booleans()),
        st.builds(SwappedLevel, st.just("first_name"), st.just("last_name")),
        st.builds(SwappedLevel, st.just("first_name"), st.just("last_name"),
                  metric=st.just("jaro_winkler"), threshold=st.sampled_from([0.8, 0.9])),
        st.builds(CrossExactLevel, st.just("lower(first_name)"), st.just("lower(last_name)")),
        st.builds(InitialLevel, st.sampled_from(["first_name", "last_name"])),
    )
    return st.one_of(simple, st.builds(AllOf, st.lists(simple, min_size=1, max_size=2)))


@st.composite
def comparisons(draw: st.DrawFn) -> Comparison:
    """A comparison of one to four random levels over the record columns."""
    levels = draw(st.lists(_levels(), min_size=1, max_size=4))
    missing = draw(st.one_of(
        st.just(()),
        st.lists(st.sampled_from(DEFAULT_COLUMNS), min_size=1, max_size=2, unique=True).map(tuple),
    ))
    return Comparison("c", tuple(levels), missing=missing)


# -- pairs and clusters ----------------------------------------------------------------------


@st.composite
def scored_pairs(
    draw: st.DrawFn, max_nodes: int = 24, max_edges: int = 50
) -> tuple[int, ScoredPairs]:
    """A number of rows and distinct undirected scored pairs (``left < right``) among them."""
    n = draw(st.integers(1, max_nodes))
    raw = draw(st.lists(
        st.tuples(st.integers(0, n - 1), st.integers(0, n - 1),
                  st.floats(-20.0, 20.0, allow_nan=False).map(lambda w: round(w, 3))),
        max_size=max_edges,
    ))
    seen: dict[tuple[int, int], float] = {}
    for a, b, w in raw:
        if a != b:
            seen.setdefault((min(a, b), max(a, b)), w)
    keys = sorted(seen)
    left = np.array([k[0] for k in keys], dtype=np.int64)
    right = np.array([k[1] for k in keys], dtype=np.int64)
    weight = np.array([seen[k] for k in keys], dtype=np.float64)
    prob = 1.0 / (1.0 + np.exp2(-weight))
    pairs = ScoredPairs(
        left, right, weight, prob, np.zeros((len(keys), 0), dtype=np.int8),
        np.full(len(keys), -1, dtype=np.int8), (),
    )
    return n, pairs


def pairs_of(edges: Sequence[tuple[int, int, float]]) -> ScoredPairs:
    """Scored pairs from (left, right, match weight) triples; probability from the weight."""
    left = np.array([a for a, _, _ in edges], dtype=np.int64)
    right = np.array([b for _, b, _ in edges], dtype=np.int64)
    weight = np.array([w for *_, w in edges], dtype=np.float64)
    return ScoredPairs(left, right, weight, 1.0 / (1.0 + np.exp2(-weight)),
                       np.zeros((len(edges), 0), dtype=np.int8),
                       np.full(len(edges), -1, dtype=np.int8), ())


def naive_components(n: int, edges: Sequence[tuple[int, int]]) -> list[int]:
    """Smallest member of each node's component, by repeated relabelling until stable."""
    label = list(range(n))
    changed = True
    while changed:
        changed = False
        for a, b in edges:
            low = min(label[a], label[b])
            if label[a] != low or label[b] != low:
                label[a] = label[b] = low
                changed = True
    return label
