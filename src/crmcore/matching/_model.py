"""The Fellegi-Sunter model value: parameters, weights, text and its saved (JSON) form.

For each comparison level, ``m`` is the probability of the level among true matches and ``u``
among non-matches; the level's match weight is ``log2(m / u)``. A pair's match weight is
``log2(prior / (1 - prior))`` plus the weights of its levels plus term-frequency adjustments;
its probability is ``2**w / (1 + 2**w)``. The "missing" level always weighs 0. Training is in
``_training.py``, the term-frequency tables in ``_tf.py``.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import numpy.typing as npt

from crmcore.errors import MatchingConfigError, ModelError
from crmcore.matching._comparisons import (
    COMPARISONS,
    Comparison,
)
from crmcore.matching._settings import MATCH_RULES, MatchRule
from crmcore.matching._tf import TERM_FREQUENCIES, TermFrequencies
from crmcore.model import DecodeContext, SpecCodec, SpecField

FloatArray = npt.NDArray[np.float64]

_FORMAT = "crmcore.matching.model/1"


def _strings(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(values)


@attrs.frozen
class TrainingReport:
    """What training did: EM iterations, whether it converged, distinct patterns, timings.

    ``em_seconds`` is the time spent in expectation maximisation and the prior's fixed point
    (on pattern counts: flat in the data size); ``patterns_seconds`` the time to count the
    patterns (linear in the candidate pairs); ``u_seconds`` the random-pair u estimation;
    ``tf_seconds`` the term-frequency tables. ``warnings`` says, in words with what to do,
    what went wrong: EM that did not converge, a prior at its floor, a model that can never
    reach the threshold (see :func:`fit_parameters`); ``notes`` what is worth knowing but often
    harmless (comparisons no EM session could estimate; levels no candidate pair showed).
    """

    iterations: int
    converged: bool
    patterns: int
    candidate_pairs: int
    u_sample_pairs: int
    em_seconds: float = 0.0
    patterns_seconds: float = 0.0
    u_seconds: float = 0.0
    tf_seconds: float = 0.0
    warnings: tuple[str, ...] = attrs.field(default=(), converter=_strings)
    notes: tuple[str, ...] = attrs.field(default=(), converter=_strings)
    #: Per EM iteration of every session: ``(session, iteration, largest change, match rate)``.
    trace: tuple[tuple[int, int, float, float], ...] = attrs.field(default=(), eq=False)


def _probabilities(values: Sequence[float]) -> tuple[float, ...]:
    return tuple(float(v) for v in values)


def _comparisons(values: Iterable[Comparison]) -> tuple[Comparison, ...]:
    return tuple(values)


def _match_rules(values: Iterable[MatchRule]) -> tuple[MatchRule, ...]:
    return tuple(values)


def _tf(
    values: Mapping[tuple[int, int], TermFrequencies],
) -> dict[tuple[int, int], TermFrequencies]:
    return dict(values)


def _table(values: Sequence[Sequence[float]]) -> tuple[tuple[float, ...], ...]:
    return tuple(_probabilities(x) for x in values)


@attrs.frozen
class MatchModel:
    """A trained (or hand-set) Fellegi-Sunter model.

    Args:
        comparisons: The comparisons, in order.
        m: Per comparison, m probability per level (index 0, "missing", is ignored).
        u: Per comparison, u probability per level.
        prior: Match probability of a candidate pair before looking at it.
        tf: (comparison index, level index) -> term frequencies, for TF-adjusted levels.
        rules: Deterministic rules combined with the score.
        report: Training report, if trained.
    """

    comparisons: tuple[Comparison, ...] = attrs.field(converter=_comparisons)
    m: tuple[tuple[float, ...], ...] = attrs.field(converter=_table)
    u: tuple[tuple[float, ...], ...] = attrs.field(converter=_table)
    prior: float = attrs.field()
    tf: Mapping[tuple[int, int], TermFrequencies] = attrs.field(factory=dict, converter=_tf)
    rules: tuple[MatchRule, ...] = attrs.field(default=(), converter=_match_rules)
    report: TrainingReport | None = attrs.field(default=None, eq=False)

    def __attrs_post_init__(self) -> None:
        if not 0.0 < self.prior < 1.0:
            raise ModelError(f"prior must be strictly between 0 and 1, got {self.prior}")
        for comp, m, u in zip(self.comparisons, self.m, self.u, strict=True):
            if len(m) != comp.n_levels or len(u) != comp.n_levels:
                raise ModelError(
                    f"comparison {comp.name!r} has {comp.n_levels} levels but "
                    f"{len(m)} m and {len(u)} u values"
                )
            if min(m[1:] + u[1:]) <= 0:
                raise ModelError(f"comparison {comp.name!r}: m and u must be positive")
        names = [c.name for c in self.comparisons]
        for rule in self.rules:
            for cname, labels in rule.when.items():
                if cname not in names:
                    raise ModelError(f"rule {rule.name!r} names unknown comparison {cname!r}")
                comp = self.comparisons[names.index(cname)]
                bad = [lab for lab in labels if lab not in comp.labels]
                if bad:
                    raise ModelError(
                        f"rule {rule.name!r}: {cname!r} has no levels {bad}; "
                        f"levels are {list(comp.labels)}"
                    )

    # -- weights ------------------------------------------------------------------------------
    @property
    def prior_weight(self) -> float:
        """``log2(prior / (1 - prior))``."""
        return math.log2(self.prior / (1.0 - self.prior))

    def weights(self) -> tuple[FloatArray, ...]:
        """Match weight (bits) per level of each comparison; "missing" weighs 0."""
        out = []
        for m, u in zip(self.m, self.u, strict=True):
            w = np.log2(np.asarray(m) / np.asarray(u))
            w[0] = 0.0
            out.append(w)
        return tuple(out)

    def comparison_index(self, name: str) -> int:
        """Index of a comparison by name.

        Raises:
            ModelError: If there is no such comparison.
        """
        for i, c in enumerate(self.comparisons):
            if c.name == name:
                return i
        raise ModelError(f"no comparison named {name!r}")

    def with_parameters(
        self,
        comparison: str,
        level: str,
        *,
        m: float | None = None,
        u: float | None = None,
    ) -> MatchModel:
        """A copy with one level's m and/or u set by hand (the others are left as they are)."""
        ci = self.comparison_index(comparison)
        labels = self.comparisons[ci].labels
        if level not in labels:
            raise ModelError(f"comparison {comparison!r} has no level {level!r}: {list(labels)}")
        li = labels.index(level)
        ms = [list(x) for x in self.m]
        us = [list(x) for x in self.u]
        if m is not None:
            ms[ci][li] = m
        if u is not None:
            us[ci][li] = u
        return attrs.evolve(self, m=ms, u=us)

    # -- text ---------------------------------------------------------------------------------
    def __repr__(self) -> str:
        from crmcore.display import model_text

        return model_text(self)

    def _repr_html_(self) -> str:
        from crmcore.display import model_html

        return model_html(self)

    def summary(self) -> str:
        """A readable table: m, u and match weight of every level of every comparison."""
        head = (
            f"Fellegi-Sunter model: {len(self.comparisons)} comparisons, "
            f"prior {self.prior:.6g} (weight {self.prior_weight:+.2f} bits)"
        )
        lines = [head]
        if self.report is not None:
            r = self.report
            lines.append(
                f"trained by EM on {r.patterns:,} distinct patterns of {r.candidate_pairs:,} "
                f"candidate pairs: {r.iterations} iterations, "
                f"{'converged' if r.converged else 'NOT converged'}; "
                f"u from {r.u_sample_pairs:,} random pairs"
            )
            lines.extend(f"WARNING: {w}" for w in r.warnings)
            lines.extend(f"note: {w}" for w in r.notes)
        weights = self.weights()
        for ci, comp in enumerate(self.comparisons):
            lines.append(f"\n{comp.name}")
            width = max(len(lab) for lab in comp.labels)
            for li, label in enumerate(comp.labels):
                if li == 0:
                    lines.append(f"  {label:<{width}}  (no evidence, weight 0)")
                    continue
                tf = "  +TF" if (ci, li) in self.tf else ""
                lines.append(
                    f"  {label:<{width}}  m={self.m[ci][li]:.4f}  u={self.u[ci][li]:.6f}  "
                    f"weight {weights[ci][li]:+6.2f}{tf}"
                )
        for rule in self.rules:
            when = ", ".join(f"{k} in {list(v)}" for k, v in rule.when.items())
            lines.append(f"\nrule {rule.name!r}: {when} -> {rule.outcome}")
        return "\n".join(lines)

    # -- JSON ---------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form (comparisons, parameters, TF tables and rules)."""
        return {"format": _FORMAT, **MODELS.to_dict(self)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MatchModel:
        """Rebuild from :meth:`to_dict`.

        Raises:
            ModelError: If the payload is not a saved model.
        """
        if not isinstance(data, Mapping) or data.get("format") != _FORMAT:
            found = data.get("format") if isinstance(data, Mapping) else None
            raise ModelError(f"not a saved crmcore match model (format {found!r})")
        body = {k: v for k, v in data.items() if k != "format"}
        try:
            model: MatchModel = MODELS.from_dict(body, path="model")
        except MatchingConfigError as exc:
            raise ModelError(f"saved model is damaged: {exc}") from exc
        return model

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the model as JSON."""
        Path(path).write_text(json.dumps(self.to_dict(), indent=1), encoding="utf-8")

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> MatchModel:
        """Read a model written by :meth:`save`.

        Raises:
            ModelError: If the file is not a saved model.
        """
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise ModelError(f"cannot read model {path}: {exc}") from exc
        return cls.from_dict(data)


def _to_dicts(values: Iterable[Any]) -> list[Any]:
    return [v.to_dict() for v in values]


def _tables(values: tuple[tuple[float, ...], ...]) -> list[list[float]]:
    return [list(x) for x in values]


def _encode_tf(tf: Mapping[tuple[int, int], TermFrequencies]) -> list[dict[str, Any]]:
    return [{"comparison": ci, "level": li, **t.to_dict()} for (ci, li), t in tf.items()]


def _decode_tf(raw: Any, ctx: DecodeContext) -> Any:
    if not isinstance(raw, list):
        ctx.problem(raw, "model.tf", "expected a list")
        return SpecCodec.MISSING
    out: dict[tuple[int, int], TermFrequencies] = {}
    for i, item in enumerate(raw):
        at = ctx.at(f"[{i}]")
        if not isinstance(item, Mapping):
            at.problem(item, "model.tf", "expected an object")
            continue
        where = [item.get("comparison"), item.get("level")]
        if not all(isinstance(w, int) and not isinstance(w, bool) for w in where):
            at.problem(where, "model.tf", "'comparison' and 'level' must be integers")
            continue
        table = TERM_FREQUENCIES.decode(
            {k: v for k, v in item.items() if k not in ("comparison", "level")}, at
        )
        if table is not SpecCodec.MISSING:
            out[(int(item["comparison"]), int(item["level"]))] = table
    return out


#: The dict form of a match model (``format`` is added around it by :meth:`MatchModel.to_dict`;
#: the training report is not saved).
MODELS = SpecCodec("model", key=None, error=MatchingConfigError.from_problems)
MODELS.register(
    MatchModel,
    fields={
        "comparisons": SpecField(encode=_to_dicts, decode=SpecCodec.list_of(
            COMPARISONS.decode, rule="model.comparisons")),
        "m": SpecField(encode=_tables),
        "u": SpecField(encode=_tables),
        "tf": SpecField(encode=_encode_tf, decode=_decode_tf),
        "rules": SpecField(encode=_to_dicts, decode=SpecCodec.list_of(
            MATCH_RULES.decode, rule="model.rules")),
        "report": SpecField(skip=True),
    },
)  # fmt: skip
