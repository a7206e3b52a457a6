"""Risk flags of declarations (事中事后监管): pure, vectorised, recomputable.

``compute_flags(frame, config=...)`` reads ONE ROW PER DECLARED INDICATOR and returns one row per
flag, ``[declaration_id, version_id, code, severity, key, evidence]``. Nothing here touches
Flask, the database or files: the ``supervision`` jobs load the frame, call this, and store the
difference with the open flags (``diff_flags``). The near-identical-text flag is computed with
``supervision.flags.similarity`` and turned into flag rows by ``near_identical_flags``.

Input columns (only ``declaration_id`` and ``version_id`` are required; a check whose columns
are missing is skipped and named in ``flags.attrs["skipped_checks"]``):

=============================  ================================================================
per indicator row
``enterprise_id``              (unused by the checks, kept for callers)
``category_id``                product category of the indicator's benchmark
``benchmark_code``             the benchmark indicator (str or int); None for free indicators
``indicator_name``             the declared name (used as the key when there is no code)
``guaranteed``                 the guaranteed value in the benchmark's canonical unit (float)
``unit``                       the canonical unit, shown in the evidence
``direction``                  "higher" | "lower" is better
``mandatory_limit``            限定值 in force for the version (float, NaN = none)
``mandatory_source``           the mandatory standard's code, e.g. "GB 21455-2019"
``recommended_value``          recommended value in force (float, NaN = none)
``recommended_source``         the recommended standard's code
``cmp_status``                 the comparison stored at publication: violation |
                               below_recommended | meets | exceeds (used where the limit columns
                               are absent or a row has no direction)
``mingshi``                    bool, or the 明示 text (blank = none)
``test_method``                检验方法 (blank = missing)
per declaration (repeated on each of its rows; the first row of a version is read)
``open_complaints``            number of open complaints (int)
``is_leader``                  the declaration is a 领跑者 (bool)
``withdrawn_references``       cited standards the catalogue lists as withdrawn/replaced: a list
                               of codes, ``(code, replaced_by)`` pairs or dicts ``{"code",
                               "replaced_by"}``, or a string "GB 1-2000 -> GB 1-2020; GB 2-1999"
=============================  ================================================================

A declaration without indicators may be passed as one row whose indicator columns are empty.
For speed pass string columns as ``category`` dtype and sort the frame by ``version_id`` (the
job's query can do both); other layouts give the same flags, a few seconds slower at 10^7 rows.

Flags, with their default severity (``RiskConfig.severity``) and the key that identifies a flag
within its version (``flag_key``):

* ``below_mandatory`` (high), key = indicator: the guaranteed value is worse than the mandatory
  limit, recomputed from ``mandatory_limit`` and ``direction`` (so a catalogue correction
  clears it), else read from ``cmp_status == "violation"``;
* ``below_recommended_without_mingshi`` (medium), key = indicator: worse than the recommended
  value (and not worse than the mandatory limit) without a 明示 statement;
* ``reference_withdrawn`` (medium), key = standard: a cited standard is withdrawn or replaced;
* ``missing_test_method`` (medium), key = indicator;
* ``implausible_value`` (low; one step up when ``|z| >= robust_z_high`` or when the model
  agrees), key = indicator, or ``"(combination)"`` for the model-only flag (see below);
* ``open_complaint`` (medium; one step up from ``complaints_high`` complaints), key = "";
* ``leader`` (low: leaders are checked more), key = "";
* ``near_identical`` (medium; one step up from ``near_identical_high``), key = "text:<id>" or
  "indicator_table:<id>" of the other declaration;
* ``text_unchecked`` (medium), key = "": the standard text could not be read within
  ``PDF_TEXT_BUDGET`` for the copy check, so a supervisor compares it by hand
  (``text_unchecked_flags``; the evidence says which limit it passed).

Implausible values. Per (category, indicator) group, the modified z-score of Iglewicz and
Hoaglin, ``z = 0.6745 (x - median) / MAD``, with the median and the MAD computed by
groupby-transform. The MAD is never taken below the distance from the median to the nearest
other value (the printed precision: when most values of a group tie on the median, a value one
step away is ordinary). Groups with fewer than ``min_group_size`` values are not judged.
``|z| > robust_z`` (3.5) raises a flag naming the value, the category median, the MAD, z and,
with ``direction``, whether the value is implausibly good (an overstated claim?) or bad (a unit
or typing error?).

The scikit-learn model is a LocalOutlierFactor per category on the declaration × indicator
matrix of those robust z-scores (an indicator not declared counts as the median, 0). To stay
cheap at 2,000,000 declarations in hundreds of categories it is used as a second opinion:

* it is FITTED (novelty mode) on at most ``model_fit_rows`` (256) declarations of the category
  that the screen below lets through as ordinary, chosen by a seeded hash of their version id
  (``random_state``; the choice does not move when other declarations come and go), duplicates
  removed;
* it SCORES the declarations the screen retains: some ``|z| >= model_screen_z`` (2.5) or a
  root-mean-square z ``>= model_screen_rms`` (2.0, values all moderately unusual together):
  about 5-8 % of a normal category, and every robust flag;
* a local outlier factor ``>= model_threshold`` (2.5) marks the declaration as an outlier. On
  Gaussian categories this marks about 0.35 % of the declarations with 2 indicators, 0.05 %
  with 3 and none with 6 (LOF is noisy in two dimensions), while a declaration at 3 sigma on
  every indicator (no single value beyond 3.5) scores 2.6-3.1. With a robust flag it raises
  that flag's severity; alone, it raises one flag keyed "(combination)" naming the most
  unusual value;
* categories with fewer than ``model_min_declarations`` declarations, or a single indicator,
  are not modelled; the evidence of their robust flags says so.

IsolationForest was measured and rejected for this: its fit costs about 1.3 ms per tree, i.e.
30-60 ms per category even on 256 samples, and scoring all rows about 2.5 µs per row for 25
trees: 15-30 s for 500 categories, beyond the 15 s budget. LOF on ≤ 256 rows fits and scores
in a few ms. With ``n_jobs`` > 1 the other checks run on a second thread while the calling
thread runs this one (the model's KD-tree queries release the GIL). The model itself is never
run from two threads at once: scikit-learn hands the process-wide ``warnings.filters`` to its
joblib calls and resets them inside each call, which races between threads (spurious
"``sklearn.utils.parallel.delayed`` should be used with ..." warnings, and errors where
warnings are errors).
"""

from __future__ import annotations

import functools
import math
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "COMBINATION",
    "FLAG_CODES",
    "FLAG_COLUMNS",
    "REASON_TEMPLATES",
    "SEVERITIES",
    "RiskConfig",
    "changed_flags",
    "compute_flags",
    "describe",
    "diff_flags",
    "flag_key",
    "near_identical_flags",
    "text_unchecked_flags",
    "risk_score",
]


def N_(message: str) -> str:  # noqa: N802 - pybabel's default marker for deferred msgids
    """Mark ``message`` for extraction; the UI translates it when showing the evidence."""
    return message


FLAG_CODES = (
    "below_mandatory",
    "below_recommended_without_mingshi",
    "reference_withdrawn",
    "missing_test_method",
    "implausible_value",
    "open_complaint",
    "leader",
    "near_identical",
    "text_unchecked",
)
SEVERITIES = ("high", "medium", "low")  # most severe first
FLAG_COLUMNS = ["declaration_id", "version_id", "code", "severity", "key", "evidence"]
COMBINATION = "(combination)"

DEFAULT_SEVERITY = {
    "below_mandatory": "high",
    "below_recommended_without_mingshi": "medium",
    "reference_withdrawn": "medium",
    "missing_test_method": "medium",
    "implausible_value": "low",
    "open_complaint": "medium",
    "leader": "low",
    "near_identical": "medium",
    "text_unchecked": "medium",
}
DEFAULT_WEIGHTS = {"high": 5.0, "medium": 2.0, "low": 1.0}

#: English msgids of the evidence's "reason" sentence, by ``evidence["reason_id"]``. The
#: parameters are the evidence's fields, numbers already formatted (see ``describe``).
REASON_TEMPLATES = {
    "below_mandatory": N_(
        "%(indicator)s: the guaranteed value %(value)s is worse than the mandatory limit "
        "%(limit)s of %(standard)s."
    ),
    "below_recommended_without_mingshi": N_(
        "%(indicator)s: the guaranteed value %(value)s is worse than the recommended value "
        "%(recommended)s of %(standard)s, and no 明示 statement is given."
    ),
    "reference_replaced": N_("The cited standard %(standard)s is replaced by %(replaced_by)s."),
    "reference_withdrawn": N_("The cited standard %(standard)s is withdrawn (废止)."),
    "missing_test_method": N_("%(indicator)s has no test method (检验方法)."),
    "implausible_better": N_(
        "%(indicator)s = %(value)s is far better than the category median %(category_median)s "
        "(robust z %(robust_z)s, limit %(threshold)s): an overstated value?"
    ),
    "implausible_worse": N_(
        "%(indicator)s = %(value)s is far worse than the category median %(category_median)s "
        "(robust z %(robust_z)s, limit %(threshold)s): a unit or typing error?"
    ),
    "implausible_above": N_(
        "%(indicator)s = %(value)s is far above the category median %(category_median)s "
        "(robust z %(robust_z)s, limit %(threshold)s)."
    ),
    "implausible_below": N_(
        "%(indicator)s = %(value)s is far below the category median %(category_median)s "
        "(robust z %(robust_z)s, limit %(threshold)s)."
    ),
    "implausible_combination": N_(
        "The combination of values is unusual for the category (local outlier factor "
        "%(model_score)s, limit %(model_threshold)s); the most unusual is %(indicator)s = "
        "%(value)s against the category median %(category_median)s (robust z %(robust_z)s)."
    ),
    "open_complaint": N_("%(open_complaints)s open complaint(s) (举报) about this declaration."),
    "leader": N_("The declaration is a 领跑者 (leader): leaders are checked more often."),
    "near_identical": N_(
        "The %(subject)s is near-identical (similarity %(similarity)s) to declaration "
        "%(other_declaration_id)s of another enterprise."
    ),
    "text_unchecked": N_(
        "The standard text could not be read automatically, so it was not compared with "
        "other standards: compare it by hand."
    ),
    "text_unchecked_pages": N_(
        "The standard text has more than %(limit)s pages, more than the automatic reading "
        "allows, so it was not compared with other standards: compare it by hand."
    ),
    "text_unchecked_content_bytes": N_(
        "The pages of the standard text hold more than %(limit)s bytes of drawing "
        "instructions, more than the automatic reading allows, so it was not compared with "
        "other standards: compare it by hand."
    ),
    "text_unchecked_content_tokens": N_(
        "The pages of the standard text hold more than %(limit)s drawing instructions "
        "(operators and operands), more than the automatic reading allows, so it was not "
        "compared with other standards: compare it by hand."
    ),
    "text_unchecked_seconds": N_(
        "Reading the standard text took longer than %(limit)s s and was stopped, so it was "
        "not compared with other standards: compare it by hand."
    ),
    "text_unchecked_memory_mb": N_(
        "Reading the standard text needed more than %(limit)s MB of memory and was stopped, "
        "so it was not compared with other standards: compare it by hand."
    ),
    "text_unchecked_failed": N_(
        "The process reading the standard text ended without an answer, so it was not "
        "compared with other standards: compare it by hand."
    ),
}


# --------------------------------------------------------------------------- configuration


@dataclass(frozen=True)
class RiskConfig:
    """Thresholds and weights; ``RiskConfig.coerce`` also takes a mapping of these fields."""

    severity: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_SEVERITY))
    weights: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    robust_z: float = 3.5
    robust_z_high: float = 10.0
    min_group_size: int = 8
    model: str = "lof"  # "lof" | "none"
    model_min_declarations: int = 30
    model_fit_rows: int = 256
    n_jobs: int = 2  # > 1: the other checks run on a second thread alongside the model
    model_neighbors: int = 20
    model_screen_z: float = 2.5
    model_screen_rms: float = 2.0
    model_threshold: float = 2.5
    random_state: int = 0
    complaints_high: int = 3
    near_identical_high: float = 0.95

    def __post_init__(self) -> None:
        severity = {**DEFAULT_SEVERITY, **dict(self.severity)}
        for code, sev in severity.items():
            if code not in DEFAULT_SEVERITY:
                raise ValueError(f"severity: unknown flag code {code!r}; known: {FLAG_CODES}")
            if sev not in SEVERITIES:
                raise ValueError(f"severity[{code!r}] must be one of {SEVERITIES}, got {sev!r}")
        object.__setattr__(self, "severity", severity)
        weights = {**DEFAULT_WEIGHTS, **dict(self.weights)}
        for sev, weight in weights.items():
            if sev not in SEVERITIES:
                raise ValueError(f"weights: unknown severity {sev!r}; known: {SEVERITIES}")
            if not (isinstance(weight, (int, float)) and math.isfinite(weight) and weight >= 0):
                raise ValueError(f"weights[{sev!r}] must be a number >= 0, got {weight!r}")
        object.__setattr__(self, "weights", weights)
        if self.model not in ("lof", "none"):
            raise ValueError(f"model must be 'lof' or 'none', got {self.model!r}")
        positive = ("robust_z", "robust_z_high", "model_screen_z", "model_screen_rms")
        for name in positive:
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)!r}")
        if not self.model_threshold > 1:
            raise ValueError(f"model_threshold must be > 1 (a LOF of 1 is ordinary), "
                             f"got {self.model_threshold!r}")
        if self.min_group_size < 3:
            raise ValueError(f"min_group_size must be >= 3, got {self.min_group_size!r}")
        if self.model_neighbors < 2 or self.model_fit_rows <= self.model_neighbors:
            raise ValueError(
                "model_neighbors must be >= 2 and model_fit_rows greater than it, got "
                f"{self.model_neighbors!r} and {self.model_fit_rows!r}"
            )
        if self.n_jobs < 1:
            raise ValueError(f"n_jobs must be >= 1, got {self.n_jobs!r}")
        if self.complaints_high < 1:
            raise ValueError(f"complaints_high must be >= 1, got {self.complaints_high!r}")

    @classmethod
    def coerce(cls, config: RiskConfig | Mapping[str, Any] | None) -> RiskConfig:
        if config is None:
            return cls()
        if isinstance(config, cls):
            return config
        if isinstance(config, Mapping):
            known = {f.name for f in fields(cls)}
            unknown = sorted(set(config) - known)
            if unknown:
                raise ValueError(f"unknown risk settings {unknown}; allowed: {sorted(known)}")
            return cls(**config)
        raise TypeError(f"config must be a RiskConfig or a mapping, got {type(config).__name__}")

    def raised(self, code: str) -> str:
        """The severity one step above the configured one for ``code`` (high stays high)."""
        sev = self.severity[code]
        return SEVERITIES[max(0, SEVERITIES.index(sev) - 1)]


# --------------------------------------------------------------------------- small helpers


def _fmt(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        if math.isnan(value):
            return "—"
        return f"{value:.4g}" if abs(value) < 1e15 else f"{value:.6g}"
    return str(value)


_FIELDS = re.compile(r"%\((\w+)\)s")


def describe(
    code: str, evidence: Mapping[str, Any], gettext: Callable[[str], str] | None = None
) -> str:
    """The evidence's reason in words, translated by ``gettext`` when given.

    ``REASON_TEMPLATES[evidence["reason_id"]]`` (else ``[code]``) filled with the evidence's
    fields, numbers shown to 4 significant digits; a nested field is ``<name>_<sub>``
    (``model_score``), a missing one "—".
    """
    template = REASON_TEMPLATES[evidence.get("reason_id", code)]
    if gettext is not None:
        template = gettext(template)
    params: dict[str, str] = {}
    for name, splits in _template_fields(template):
        if name in evidence:
            params[name] = _fmt(evidence[name])
            continue
        for head, sub in splits:
            nested = evidence.get(head)
            if isinstance(nested, Mapping) and sub in nested:
                params[name] = _fmt(nested[sub])
                break
    return template % _Defaulting(params)


@functools.lru_cache(maxsize=256)
def _template_fields(template: str) -> tuple[tuple[str, tuple[tuple[str, str], ...]], ...]:
    """The template's field names, each with its ``(head, sub)`` readings as a nested field
    (split at each "_", leftmost first): parsed once per template, not once per flag."""
    out = []
    for name in _FIELDS.findall(template):
        splits = tuple(
            (name[:i], name[i + 1 :]) for i in range(len(name)) if name[i] == "_"
        )
        out.append((name, splits))
    return tuple(out)


class _Defaulting(dict):
    def __missing__(self, key: str) -> str:
        return "—"


def _clean(value: Any) -> Any:
    """A JSON-friendly scalar: NaN → None, numpy scalars → Python."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    if value is pd.NA or value is pd.NaT:
        return None
    return value


def _key_text(value: Any) -> str:
    value = _clean(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return "" if value is None else str(value)


class _Frame:
    """Validated, cached numpy views of the input columns."""

    def __init__(self, frame: pd.DataFrame) -> None:
        if not isinstance(frame, pd.DataFrame):
            raise TypeError(f"frame must be a pandas DataFrame, got {type(frame).__name__}")
        missing = [c for c in ("declaration_id", "version_id") if c not in frame.columns]
        if missing:
            raise ValueError(f"frame lacks the required column(s) {missing}")
        self.df = frame
        self.n = len(frame)
        self.ver = frame["version_id"].to_numpy()
        if self.n and pd.isna(frame["version_id"]).any():
            raise ValueError("version_id must not be empty (a flag belongs to a version)")
        self.decl = frame["declaration_id"].to_numpy()
        self._cache: dict[str, Any] = {}

    def has(self, *names: str) -> bool:
        return all(name in self.df.columns for name in names)

    def floats(self, name: str) -> np.ndarray:
        if name not in self._cache:
            col = self.df[name]
            if col.dtype == bool or not (
                pd.api.types.is_numeric_dtype(col) or col.isna().all()
            ):
                raise ValueError(f"column {name!r} must be numeric, got dtype {col.dtype}")
            self._cache[name] = col.to_numpy(dtype=np.float64, na_value=np.nan)
        return self._cache[name]

    def labels(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """(codes, uniques): codes index uniques, -1 for a missing value."""
        key = f"labels:{name}"
        if key not in self._cache:
            col = self.df[name]
            if isinstance(col.dtype, pd.CategoricalDtype):
                codes = col.cat.codes.to_numpy().astype(np.int64)
                uniques = np.asarray(col.cat.categories, dtype=object)
            else:
                compact = _compact_int_labels(col)
                if compact is not None:
                    codes, uniques = compact
                else:
                    codes, uniq = pd.factorize(col, use_na_sentinel=True)
                    uniques = np.asarray(uniq, dtype=object)
            self._cache[key] = (codes, uniques)
        return self._cache[key]

    def blank(self, name: str) -> np.ndarray:
        """Missing or whitespace-only (evaluated once per distinct value)."""
        codes, uniques = self.labels(name)
        blank_u = np.array([_is_blank(u) for u in uniques] + [True], dtype=bool)
        return blank_u[codes]  # code -1 → the appended True

    def bools(self, name: str) -> np.ndarray:
        col = self.df[name]
        if col.dtype == bool:
            return col.to_numpy()
        if pd.api.types.is_bool_dtype(col):  # nullable boolean
            return col.fillna(False).to_numpy(dtype=bool)
        if pd.api.types.is_numeric_dtype(col):
            return col.fillna(0).to_numpy() != 0
        # object / str / category: True, a number != 0 or a non-blank text (the 明示 statement)
        codes, uniques = self.labels(name)
        lut = np.array([_present(u) for u in uniques] + [False], dtype=bool)
        return lut[codes]

    def values(self, name: str, idx: np.ndarray) -> list[Any]:
        """Python values of ``name`` at row positions ``idx`` (None for missing).

        A categorical column is cleaned once per category and looked up by code, a numpy
        column converted with ``tolist``: the same values as cleaning row by row, without a
        Python call per row (flags at 10^7 rows come by the hundred thousand)."""
        if name not in self.df.columns:
            return [None] * len(idx)
        col = self.df[name]
        if isinstance(col.dtype, pd.CategoricalDtype):
            lut = self._category_values(name)
            return [lut[c] for c in col.cat.codes.to_numpy()[idx].tolist()]  # -1 → None
        if isinstance(col.dtype, np.dtype) and col.dtype.kind in "biu":
            return col.to_numpy()[idx].tolist()
        if isinstance(col.dtype, np.dtype) and col.dtype.kind == "f":
            return [None if v != v else v for v in col.to_numpy()[idx].tolist()]
        return [_clean(v) for v in col.iloc[idx].tolist()]

    def _category_values(self, name: str) -> list[Any]:
        """The cleaned categories of a categorical column, then None (for code -1)."""
        key = f"categories:{name}"
        if key not in self._cache:
            cats = self.df[name].cat.categories.tolist()
            self._cache[key] = [_clean(v) for v in cats] + [None]
        return self._cache[key]

    def key_texts(self, name: str) -> list[str] | None:
        """``_key_text`` of each category of a categorical column ("" where blank), then ""
        for code -1; None for other columns."""
        if not isinstance(self.df[name].dtype, pd.CategoricalDtype):
            return None
        key = f"key_texts:{name}"
        if key not in self._cache:
            self._cache[key] = [
                "" if _is_blank(v) else _key_text(v) for v in self._category_values(name)
            ]
        return self._cache[key]


def _compact_int_labels(col: pd.Series) -> tuple[np.ndarray, np.ndarray] | None:
    """``pd.factorize``'s codes and uniques (first-appearance order) of integer ids in a
    compact range, through a lookup array instead of a hash table (the category ids of 10^7
    indicator rows); None when the column is not such a column."""
    if not (isinstance(col.dtype, np.dtype) and col.dtype.kind in "iu"):
        return None
    values = col.to_numpy()
    n = len(values)
    if n == 0 or (col.dtype.kind == "u" and col.dtype.itemsize == 8 and values.max() >= 2**63):
        return None
    vmin, vmax = int(values.min()), int(values.max())
    span = vmax - vmin + 1
    if span > 4 * n + 65_536:
        return None
    slot = values.astype(np.int64) - vmin
    distinct = int(np.count_nonzero(np.bincount(slot, minlength=span)))
    # first appearances: ids usually all show up early, so look at a growing prefix
    m = min(n, 65_536)
    while True:
        seen, first = np.unique(slot[:m], return_index=True)
        if len(seen) == distinct or m == n:
            break
        m = min(n, m * 8)
    in_order = seen[np.argsort(first)]
    lookup = np.full(span, -1, dtype=np.int64)
    lookup[in_order] = np.arange(distinct)
    return lookup[slot], np.asarray(in_order + vmin, dtype=object)


def _is_blank(value: Any) -> bool:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return True
    return isinstance(value, str) and not value.strip()


def _present(value: Any) -> bool:
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, float, np.number)):
        return not math.isnan(value) and value != 0
    return not _is_blank(value)


def _sign(fr: _Frame) -> np.ndarray:
    """+1 higher is better, -1 lower is better, 0 unknown (int8 per row)."""
    codes, uniques = fr.labels("direction")
    lut = np.zeros(len(uniques) + 1, dtype=np.int8)
    for i, u in enumerate(uniques):
        if u == "higher":
            lut[i] = 1
        elif u == "lower":
            lut[i] = -1
        elif not _is_blank(u):
            raise ValueError(f"direction must be 'higher' or 'lower', got {u!r}")
    return lut[codes]


def _worse(value: np.ndarray, limit: np.ndarray, sign: np.ndarray) -> np.ndarray:
    """``value`` worse than ``limit`` beyond benchmarks.compare.REL_TOL; NaN → False."""
    with np.errstate(invalid="ignore"):
        diff = value - limit
        worse = sign * diff < 0
        # the tolerance is looked at only where the value is worse (a few rows in 10^7)
        idx = np.flatnonzero(worse)
        if idx.size:
            v, lim = value[idx], limit[idx]
            close = np.abs(diff[idx]) <= 1e-9 * np.maximum(np.abs(v), np.abs(lim))
            worse[idx[close]] = False
        return worse


def _first_per_version(fr: _Frame, idx: np.ndarray) -> np.ndarray:
    """The first row position of each version among ``idx`` (ascending positions)."""
    if len(idx) == 0:
        return idx
    dup = pd.Series(fr.ver[idx]).duplicated().to_numpy()
    return idx[~dup]


def _indicator_keys(fr: _Frame, idx: np.ndarray) -> list[str]:
    keys = [""] * len(idx)
    for name in ("benchmark_code", "indicator_name", "indicator_id"):
        if not fr.has(name):
            continue
        texts = fr.key_texts(name)
        if texts is not None:  # categorical: one key text per category
            codes = fr.df[name].cat.codes.to_numpy()[idx].tolist()
            keys = [k or texts[c] for k, c in zip(keys, codes)]
            continue
        for i, v in enumerate(fr.values(name, idx)):
            if not keys[i] and not _is_blank(v):
                keys[i] = _key_text(v)
    return [k or "?" for k in keys]


def _is_indicator(fr: _Frame) -> np.ndarray:
    """Rows that are a declared indicator (not a placeholder row of a bare declaration)."""
    present = [n for n in ("benchmark_code", "indicator_name", "indicator_id") if fr.has(n)]
    if not present:
        return np.ones(fr.n, dtype=bool)
    mask = np.zeros(fr.n, dtype=bool)
    for name in present:
        mask |= fr.df[name].notna().to_numpy()
    return mask


class _Part:
    """Flags of one check, as parallel columns."""

    def __init__(
        self,
        fr: _Frame,
        idx: np.ndarray,
        code: str,
        severity: list[str] | str,
        keys: list[str],
        evidence: list[dict[str, Any]],
    ) -> None:
        n = len(idx)
        self.frame = pd.DataFrame(
            {
                "declaration_id": fr.decl[idx],
                "version_id": fr.ver[idx],
                "code": [code] * n,
                "severity": severity if isinstance(severity, list) else [severity] * n,
                "key": keys,
                "evidence": evidence,
            }
        )


def _with_reason(code: str, evidence: dict[str, Any]) -> dict[str, Any]:
    evidence["reason"] = describe(code, evidence)
    return evidence


class _Reasons:
    """``_with_reason`` for checks whose evidence repeats (one indicator without a test method
    in 10^5 declarations): the sentence is made once per distinct evidence, keyed by the
    fields' types and values (so 1, 1.0 and True never share a sentence), and each flag still
    gets its own evidence dict."""

    def __init__(self, code: str) -> None:
        self.code = code
        self.memo: dict[tuple, str] = {}

    def __call__(self, evidence: dict[str, Any]) -> dict[str, Any]:
        key = tuple((k, type(v), v) for k, v in evidence.items())
        try:
            reason = self.memo.get(key)
        except TypeError:  # an unhashable value: no memo for this one
            return _with_reason(self.code, evidence)
        if reason is None:
            reason = self.memo[key] = describe(self.code, evidence)
        evidence["reason"] = reason
        return evidence


# --------------------------------------------------------------------------- the checks


def _limit_checks(fr: _Frame, cfg: RiskConfig, skipped: dict[str, str]) -> list[_Part]:
    parts: list[_Part] = []
    have_value = fr.has("guaranteed")
    value = fr.floats("guaranteed") if have_value else None
    sign = _sign(fr) if fr.has("direction") else np.zeros(fr.n, dtype=np.int8)
    have_status = fr.has("cmp_status")

    def status_is(label: str, rows: np.ndarray) -> np.ndarray:
        """cmp_status == label at the given rows (the column is read only where needed)."""
        hit = np.zeros(fr.n, dtype=bool)
        if have_status and rows.any():
            idx = np.flatnonzero(rows)
            hit[idx] = (fr.df["cmp_status"].iloc[idx] == label).to_numpy(dtype=bool, na_value=False)
        return hit

    def judge(limit_col: str, status: str) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        recompute = have_value and fr.has(limit_col, "direction")
        if not recompute and not have_status:
            return None
        known = (sign != 0) if recompute else np.zeros(fr.n, dtype=bool)
        limit = fr.floats(limit_col) if recompute else np.full(fr.n, np.nan)
        worse = (known & _worse(value, limit, sign)) if recompute else known
        return worse | status_is(status, ~known), known, limit

    mandatory = judge("mandatory_limit", "violation")
    below_m = np.zeros(fr.n, dtype=bool)
    if mandatory is None:
        skipped["below_mandatory"] = (
            "needs guaranteed, mandatory_limit and direction, or cmp_status"
        )
    else:
        below_m, known, limit = mandatory
        idx = np.flatnonzero(below_m)
        keys = _indicator_keys(fr, idx)
        values, units = fr.values("guaranteed", idx), fr.values("unit", idx)
        limits = limit[idx].tolist()
        dirs, names = fr.values("direction", idx), fr.values("indicator_name", idx)
        sources = fr.values("mandatory_source", idx)
        basis = np.where(known[idx], "limit", "cmp_status").tolist()
        evidence = [
            _with_reason("below_mandatory", {
                "indicator": keys[i], "indicator_name": names[i], "value": values[i],
                "unit": units[i], "limit": _clean(limits[i]), "direction": dirs[i],
                "standard": sources[i], "basis": basis[i],
            })
            for i in range(len(idx))
        ]  # fmt: skip
        parts.append(
            _Part(fr, idx, "below_mandatory", cfg.severity["below_mandatory"], keys, evidence)
        )

    code = "below_recommended_without_mingshi"
    recommended = judge("recommended_value", "below_recommended")
    if not fr.has("mingshi"):
        skipped[code] = "needs mingshi"
    elif recommended is None:
        skipped[code] = "needs guaranteed, recommended_value and direction, or cmp_status"
    else:
        below_r, known, rec = recommended
        idx = np.flatnonzero(below_r & ~below_m & ~fr.bools("mingshi"))
        keys = _indicator_keys(fr, idx)
        values, units = fr.values("guaranteed", idx), fr.values("unit", idx)
        recs = rec[idx].tolist()
        dirs, names = fr.values("direction", idx), fr.values("indicator_name", idx)
        sources = fr.values("recommended_source", idx)
        basis = np.where(known[idx], "recommended_value", "cmp_status").tolist()
        evidence = [
            _with_reason(code, {
                "indicator": keys[i], "indicator_name": names[i], "value": values[i],
                "unit": units[i], "recommended": _clean(recs[i]), "direction": dirs[i],
                "standard": sources[i], "mingshi": False, "basis": basis[i],
            })
            for i in range(len(idx))
        ]  # fmt: skip
        parts.append(_Part(fr, idx, code, cfg.severity[code], keys, evidence))
    return parts


def _test_method_check(fr: _Frame, cfg: RiskConfig, skipped: dict[str, str]) -> list[_Part]:
    code = "missing_test_method"
    if not fr.has("test_method"):
        skipped[code] = "needs test_method"
        return []
    idx = np.flatnonzero(_is_indicator(fr) & fr.blank("test_method"))
    keys = _indicator_keys(fr, idx)
    names = fr.values("indicator_name", idx)
    reason = _Reasons(code)
    evidence = [
        reason({"indicator": keys[i], "indicator_name": names[i], "test_method": ""})
        for i in range(len(idx))
    ]
    return [_Part(fr, idx, code, cfg.severity[code], keys, evidence)]


_SPLIT_REFS = re.compile(r"[;；,，\n]+")
_ARROW = re.compile(r"\s*(?:->|→|=>|⇒)\s*")


def _parse_refs(value: Any, row: int) -> list[tuple[str, str | None]]:
    """``withdrawn_references`` of one declaration → [(code, replaced_by or None)]."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return []
    if isinstance(value, str):
        items: list[Any] = [s for s in _SPLIT_REFS.split(value) if s.strip()]
    elif isinstance(value, Mapping):
        items = [value]
    elif isinstance(value, (list, tuple, np.ndarray)):
        items = list(value)
    else:
        raise ValueError(
            f"withdrawn_references (row {row}): expected a list, a dict or a string, "
            f"got {type(value).__name__}"
        )
    out = []
    for item in items:
        code: Any
        replaced_by: Any = None
        if isinstance(item, str):
            pieces = _ARROW.split(item.strip(), maxsplit=1)
            code = pieces[0]
            replaced_by = pieces[1] if len(pieces) == 2 else None
        elif isinstance(item, Mapping):
            code = item.get("code", item.get("standard"))
            replaced_by = item.get("replaced_by")
        elif isinstance(item, (list, tuple)) and len(item) in (1, 2):
            code, replaced_by = (item[0], item[1] if len(item) == 2 else None)
        else:
            raise ValueError(
                f"withdrawn_references (row {row}): an entry must be a code, a (code, "
                f"replaced_by) pair or a dict with 'code', got {item!r}"
            )
        if _is_blank(code):
            raise ValueError(f"withdrawn_references (row {row}): an entry has no code: {item!r}")
        replaced_by = None if _is_blank(replaced_by) else str(replaced_by).strip()
        out.append((str(code).strip(), replaced_by))
    return out


def _declaration_checks(fr: _Frame, cfg: RiskConfig, skipped: dict[str, str]) -> list[_Part]:
    parts: list[_Part] = []

    code = "reference_withdrawn"
    if not fr.has("withdrawn_references"):
        skipped[code] = "needs withdrawn_references"
    else:
        col = fr.df["withdrawn_references"]
        idx = _first_per_version(fr, np.flatnonzero(col.notna().to_numpy()))
        rows, keys, evidence = [], [], []
        reason = _Reasons(code)
        parsed: dict[str, list[tuple[str, str | None]]] = {}  # one parse per distinct text
        for pos, value in zip(idx.tolist(), col.iloc[idx].tolist()):
            seen = set()
            if isinstance(value, str):
                if value not in parsed:
                    parsed[value] = _parse_refs(value, pos)
                refs = parsed[value]
            else:
                refs = _parse_refs(value, pos)
            for std, replaced_by in refs:
                if std in seen:
                    continue
                seen.add(std)
                rows.append(pos)
                keys.append(std)
                status = "replaced" if replaced_by else "withdrawn"
                ev = {"standard": std, "replaced_by": replaced_by, "status": status,
                      "reason_id": f"reference_{status}"}  # fmt: skip
                evidence.append(reason(ev))
        parts.append(
            _Part(fr, np.asarray(rows, dtype=np.int64), code, cfg.severity[code], keys, evidence)
        )

    code = "open_complaint"
    if not fr.has("open_complaints"):
        skipped[code] = "needs open_complaints"
    else:
        count = fr.floats("open_complaints")
        idx = _first_per_version(fr, np.flatnonzero(count > 0))
        counts = [int(c) for c in count[idx].tolist()]
        sev = [
            cfg.raised(code) if c >= cfg.complaints_high else cfg.severity[code] for c in counts
        ]
        reason = _Reasons(code)
        evidence = [reason({"open_complaints": c}) for c in counts]
        parts.append(_Part(fr, idx, code, sev, [""] * len(idx), evidence))

    code = "leader"
    if not fr.has("is_leader"):
        skipped[code] = "needs is_leader"
    else:
        idx = _first_per_version(fr, np.flatnonzero(fr.bools("is_leader")))
        reason = _Reasons(code)
        evidence = [reason({"leader": True}) for _ in range(len(idx))]
        parts.append(_Part(fr, idx, code, cfg.severity[code], [""] * len(idx), evidence))
    return parts


# --------------------------------------------------------------------------- implausible values


def _hash_u64(values: np.ndarray, seed: int) -> np.ndarray:
    """A seeded splitmix64 hash of integer (or factorised) ids, for a stable random order."""
    if not np.issubdtype(values.dtype, np.integer):
        values = pd.util.hash_array(np.asarray(values, dtype=object)).astype(np.int64)
    x = values.astype(np.uint64) ^ np.uint64(seed & 0xFFFFFFFFFFFFFFFF)
    x = x + np.uint64(0x9E3779B97F4A7C15)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def _robust_z(
    value: np.ndarray, gid: np.ndarray, ngroups: int, min_size: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(z, median, scale, size) per row; z is NaN in groups smaller than ``min_size``.

    ``z = 0.6745 (x - median) / scale`` with ``scale = max(MAD, step)``, where ``step`` is the
    distance from the median to the nearest other value of the group: values are printed to
    a precision (0.1 W, 1 lm/W), and when most of a group ties on the median (MAD = 0) a value
    one printed step away is ordinary, not an outlier. For continuous values ``step`` is far
    below the MAD and changes nothing. The rows are put in group order once (a stable counting
    sort); the median and the MAD are then partial sorts of each group's slice, the step a
    minimum over the slices of the tied groups only: a few thousand slice operations, no pass
    over 10^7 hashed group labels.
    """
    group_size = np.bincount(gid, minlength=ngroups)
    # Rows grouped by a stable counting sort of the group number, so each group is one
    # contiguous slice: its median is a partial sort (np.partition) of that slice, as
    # pandas' groupby median computes it (the middle value, or the mean of the two middle
    # ones), without hashing 10^7 group labels. Everything per group is computed in that
    # order (one gather of the values), then read back per row through the group number.
    order = np.argsort(gid.astype(np.uint16) if ngroups <= 65_536 else gid, kind="stable")
    bounds = np.concatenate(([0], np.cumsum(group_size)))
    in_order = value[order]
    median_g = _segment_medians(in_order.copy(), bounds)
    median_in_order = np.repeat(median_g, group_size)
    absdev = np.abs(in_order - median_in_order)
    tied = absdev <= 1e-9 * np.abs(median_in_order)
    tied_upto = np.concatenate(([0], np.cumsum(tied)))
    tied_count = tied_upto[bounds[1:]] - tied_upto[bounds[:-1]]
    # The step can exceed the MAD only where at least half of the group ties on the median
    # (2·ties >= n); elsewhere the MAD is already at least the step, so look only there.
    many_ties = (2 * tied_count >= group_size) & (group_size > 0)
    step_g = np.full(ngroups, np.nan)  # NaN: every value of the group is tied
    for g in np.flatnonzero(many_ties).tolist():
        lo, hi = bounds[g], bounds[g + 1]
        off = absdev[lo:hi][~tied[lo:hi]]
        if off.size:
            step_g[g] = off.min()
    mad_g = _segment_medians(absdev, bounds)  # partitions ``absdev`` in place: last use
    scale_g = np.where(many_ties, np.fmax(mad_g, step_g), mad_g)
    median = median_g[gid]
    scale = scale_g[gid]
    size = group_size[gid]
    # z = 0.6745 (x - median) / scale where scale > 0, else 0: in place, no temporaries
    z = np.subtract(value, median)
    with np.errstate(divide="ignore", invalid="ignore"):
        np.multiply(z, 0.6745, out=z)
        np.divide(z, scale, out=z)
    z[~(scale > 0)] = 0.0
    z[size < min_size] = np.nan
    return z, median, scale, size


def _segment_medians(sorted_values: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    """The median of each slice ``sorted_values[bounds[g]:bounds[g+1]]`` (NaN when empty).

    The slices are partitioned in place (the caller passes a copy): the middle element for an
    odd size, ``(a + b) / 2`` of the two middle ones for an even size, exactly as
    ``groupby(...).median()`` gives it.
    """
    out = np.full(len(bounds) - 1, np.nan)
    for g, (lo, hi) in enumerate(zip(bounds[:-1].tolist(), bounds[1:].tolist())):
        size = hi - lo
        if size == 0:
            continue
        seg = sorted_values[lo:hi]
        half = size // 2
        if size % 2:
            seg.partition(half)
            out[g] = seg[half]
        else:
            seg.partition((half - 1, half))
            out[g] = (seg[half - 1] + seg[half]) / 2
    return out


def _pairs(ver: np.ndarray, cat_codes: np.ndarray, ncat: int) -> tuple[np.ndarray, int]:
    """A dense code for each (version, category) pair.

    Integer version ids in a compact range (the usual case) are numbered through a lookup
    array, O(n) without hashing; when every version has one category, the version's number is
    the pair's. Otherwise the pairs are factorised.
    """
    n = len(ver)
    if n == 0:
        return np.empty(0, dtype=np.int64), 0
    if np.issubdtype(ver.dtype, np.integer):
        vmin, vmax = int(ver.min()), int(ver.max())
        span = vmax - vmin + 1
        if span <= 4 * n + 65_536:
            slot = (ver - vmin).astype(np.int64)
            present = np.zeros(span, dtype=bool)
            present[slot] = True
            number = np.cumsum(present) - 1
            vcode = number[slot]
            nver = int(number[-1]) + 1
            cat_of = np.empty(nver, dtype=np.int64)
            cat_of[vcode] = cat_codes
            if bool((cat_of[vcode] == cat_codes).all()):
                return vcode, nver
        if vmin >= 0 and (vmax + 1) * ncat < 2**62:
            codes, uniq = pd.factorize(ver.astype(np.int64) * ncat + cat_codes)
            return codes.astype(np.int64), len(uniq)
    frame = pd.DataFrame({"v": ver, "c": cat_codes})
    codes = frame.groupby(["v", "c"], sort=False).ngroup().to_numpy()
    return codes.astype(np.int64), int(codes.max()) + 1


def _lof_scores(
    train: np.ndarray, query: np.ndarray, neighbors: int
) -> np.ndarray:
    from sklearn import config_context
    from sklearn.neighbors import LocalOutlierFactor

    # The inputs are finite float32 z-scores built here: sklearn's per-call input and
    # parameter validation (a tenth of a call on 256 rows, 500 calls) adds nothing. One
    # thread at a time (see the module docstring).
    with _SKLEARN_LOCK, config_context(assume_finite=True, skip_parameter_validation=True):
        model = LocalOutlierFactor(n_neighbors=min(neighbors, len(train) - 1), novelty=True)
        model.fit(train)
        return -model.score_samples(query)


_SKLEARN_LOCK = threading.Lock()


def _implausible_check(
    fr: _Frame, cfg: RiskConfig, skipped: dict[str, str], notes: dict[str, Any]
) -> list[_Part]:
    code = "implausible_value"
    if not fr.has("category_id", "benchmark_code", "guaranteed"):
        skipped[code] = "needs category_id, benchmark_code and guaranteed"
        return []
    value_all = fr.floats("guaranteed")
    cat_all, cat_uniques = fr.labels("category_id")
    ind_all, ind_uniques = fr.labels("benchmark_code")
    rows = np.flatnonzero((cat_all >= 0) & (ind_all >= 0) & np.isfinite(value_all))
    if len(rows) == 0:
        return []
    if len(rows) == fr.n:  # every row takes part (the usual case): no copies
        value, cat, ind, ver = value_all, cat_all, ind_all, fr.ver
    else:
        value, cat, ind, ver = value_all[rows], cat_all[rows], ind_all[rows], fr.ver[rows]
    ncat, nind = len(cat_uniques), len(ind_uniques)

    # group = (category, indicator), numbered densely
    gkey = cat.astype(np.int64) * nind + ind
    if ncat * nind <= 50_000_000:
        present = np.bincount(gkey, minlength=ncat * nind) > 0
        remap = np.cumsum(present) - 1
        gid = remap[gkey]
        ukeys = np.flatnonzero(present)
    else:
        gid, ukeys = pd.factorize(gkey, sort=True)
    ngroups = len(ukeys)
    g_cat = (ukeys // nind).astype(np.int64)

    z, median, scale, size = _robust_z(value, gid, ngroups, cfg.min_group_size)
    absz = np.abs(z)
    robust = absz > cfg.robust_z  # NaN → False

    # ---- the declaration × indicator matrix of z, one row per (version, category)
    g_order = np.lexsort((ukeys % nind, g_cat))
    g_local = np.empty(ngroups, dtype=np.int64)
    first_of_cat = np.searchsorted(g_cat[g_order], g_cat[g_order], side="left")
    g_local[g_order] = np.arange(ngroups) - first_of_cat
    local = g_local[gid]
    kmax = int(g_local.max()) + 1
    pair, npairs = _pairs(ver, cat, ncat)
    zf = np.nan_to_num(z, nan=0.0).astype(np.float32)
    matrix = np.zeros((npairs, kmax), dtype=np.float32)
    matrix[pair, local] = zf
    declared = np.bincount(pair, weights=np.isfinite(z), minlength=npairs)
    pair_cat = np.zeros(npairs, dtype=np.int64)
    pair_cat[pair] = cat
    pair_ver = np.zeros(npairs, dtype=fr.ver.dtype)
    pair_ver[pair] = ver
    cat_k = np.bincount(g_cat, minlength=ncat)  # indicators per category

    lof = np.full(npairs, np.nan)
    cat_note: dict[int, str] = {}
    if cfg.model == "none":
        cat_note = {c: "model disabled (model = 'none')" for c in range(ncat)}
    else:
        maxabs = np.abs(matrix).max(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            rms = np.sqrt(np.einsum("ij,ij->i", matrix, matrix) / np.maximum(declared, 1))
        screened = (maxabs >= cfg.model_screen_z) | (rms >= cfg.model_screen_rms)
        # a stable sort of small integers: radix sort on 16 bits
        order = np.argsort(pair_cat.astype(np.uint16) if ncat <= 65_536 else pair_cat,
                           kind="stable")
        bounds = np.searchsorted(pair_cat[order], np.arange(ncat + 1))
        per_cat = np.bincount(pair_cat, minlength=ncat)
        screened_cats = np.unique(pair_cat[screened])
        hashes = _hash_u64(pair_ver, cfg.random_state)
        tasks = []
        for c in screened_cats.tolist():
            n_c, k_c = int(per_cat[c]), int(cat_k[c])
            if n_c < cfg.model_min_declarations:
                cat_note[c] = (
                    f"model skipped: only {n_c} declarations in the category "
                    f"(at least {cfg.model_min_declarations} needed)"
                )
                continue
            if k_c < 2:
                cat_note[c] = "model skipped: the category has one indicator"
                continue
            members = order[bounds[c] : bounds[c + 1]]
            query = members[screened[members]]
            pool = members[~screened[members]]
            if len(pool) > cfg.model_fit_rows:
                pool = pool[np.argpartition(hashes[pool], cfg.model_fit_rows)[: cfg.model_fit_rows]]
            train = np.unique(matrix[pool, :k_c], axis=0)
            if len(train) <= cfg.model_neighbors:
                cat_note[c] = (
                    f"model skipped: only {len(train)} distinct ordinary declarations to learn "
                    f"from (more than {cfg.model_neighbors} needed)"
                )
                continue
            tasks.append((query, train, matrix[query, :k_c]))

        for query, train, features in tasks:
            lof[query] = _lof_scores(train, features, cfg.model_neighbors)
    notes["model"] = {_key_text(cat_uniques[c]): note for c, note in sorted(cat_note.items())}
    outlier = lof >= cfg.model_threshold  # NaN → False

    # ---- flags
    has_robust = np.zeros(npairs, dtype=bool)
    has_robust[pair[robust]] = True
    sel = np.flatnonzero(robust)
    model_only = np.flatnonzero(outlier & ~has_robust)
    # the most unusual value of each model-only declaration
    best_local = np.full(npairs, -1, dtype=np.int64)
    best_local[model_only] = np.abs(matrix[model_only]).argmax(axis=1)
    target = np.zeros(0, dtype=np.int64)
    if len(model_only):  # look only at the rows of model-only declarations
        is_model_only = np.zeros(npairs, dtype=bool)
        is_model_only[model_only] = True
        candidates = np.flatnonzero(is_model_only[pair])
        target = candidates[best_local[pair[candidates]] == local[candidates]]
        target = target[~pd.Series(pair[target]).duplicated().to_numpy()]
    picked = np.concatenate([sel, target])
    is_model = np.concatenate([np.zeros(len(sel), bool), np.ones(len(target), bool)])
    if len(picked) == 0:
        return []
    fidx = rows[picked]  # frame positions
    keys = _indicator_keys(fr, fidx)
    values, units = fr.values("guaranteed", fidx), fr.values("unit", fidx)
    dirs = fr.values("direction", fidx)
    pp = pair[picked]
    cats = [_key_text(cat_uniques[c]) for c in cat[picked].tolist()]
    med, madv = median[picked].tolist(), scale[picked].tolist()
    zs, sizes = z[picked].tolist(), size[picked].tolist()
    lofs, outs = lof[pp].tolist(), outlier[pp].tolist()
    pcats = pair_cat[pp].tolist()
    out_keys, severity, evidence = [], [], []
    for i in range(len(picked)):
        side_up = zs[i] > 0
        d = dirs[i]
        if d in ("higher", "lower"):
            better = side_up == (d == "higher")
            side = "better" if better else "worse"
        else:
            side = "above" if side_up else "below"
        if math.isnan(lofs[i]):
            model = {"method": "local_outlier_factor",
                     "skipped": cat_note.get(pcats[i], "not scored")}  # fmt: skip
        else:
            model = {"method": "local_outlier_factor", "score": round(lofs[i], 4),
                     "threshold": cfg.model_threshold, "outlier": bool(outs[i])}  # fmt: skip
        ev = {
            "check": "model" if is_model[i] else "robust",
            "indicator": keys[i], "value": values[i], "unit": units[i], "direction": d,
            "category_id": cats[i], "category_median": med[i], "mad": madv[i],
            "robust_z": None if math.isnan(zs[i]) else round(zs[i], 3),
            "threshold": cfg.robust_z, "group_size": int(sizes[i]), "side": side, "model": model,
            "reason_id": "implausible_combination" if is_model[i] else f"implausible_{side}",
        }  # fmt: skip
        evidence.append(_with_reason(code, ev))
        if is_model[i]:
            out_keys.append(COMBINATION)
            severity.append(cfg.severity[code])
        else:
            out_keys.append(keys[i])
            strong = abs(zs[i]) >= cfg.robust_z_high or bool(outs[i])
            severity.append(cfg.raised(code) if strong else cfg.severity[code])
    return [_Part(fr, fidx, code, severity, out_keys, evidence)]


# --------------------------------------------------------------------------- public API


def _empty_flags() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in FLAG_COLUMNS})


def _assemble(parts: list[_Part]) -> pd.DataFrame:
    frames = [p.frame for p in parts if len(p.frame)]
    if not frames:
        return _empty_flags()
    out = pd.concat(frames, ignore_index=True)
    out = out.drop_duplicates(["version_id", "code", "key"], keep="first")
    return out.sort_values(["version_id", "code", "key"], kind="stable").reset_index(drop=True)


def compute_flags(
    frame: pd.DataFrame, *, config: RiskConfig | Mapping[str, Any] | None = None
) -> pd.DataFrame:
    """All risk flags of the declarations in ``frame`` (see the module docstring).

    Returns ``[declaration_id, version_id, code, severity, key, evidence]`` sorted by version,
    code and key, one row per flag; ``evidence`` is a JSON-ready dict with a "reason" sentence.
    ``attrs["skipped_checks"]`` names the checks whose columns were missing and
    ``attrs["model_notes"]`` the categories the outlier model did not score, with why.
    """
    cfg = RiskConfig.coerce(config)
    fr = _Frame(frame)
    notes: dict[str, Any] = {}
    checks: list[tuple[Callable[..., list[_Part]], tuple]] = [
        (_limit_checks, ()),
        (_test_method_check, ()),
        (_implausible_check, (notes,)),
        (_declaration_checks, ()),
    ]
    # (parts, skipped) or the exception of each check, in this order
    outcomes: list[Any] = [None] * len(checks)

    def run(i: int) -> None:
        check, extra = checks[i]
        skipped: dict[str, str] = {}
        try:
            outcomes[i] = (check(fr, cfg, skipped, *extra), skipped)
        except BaseException as error:  # noqa: BLE001 - raised below, in the checks' order
            outcomes[i] = error

    if cfg.n_jobs > 1:
        # The implausible-value check (its outlier model spends most of its time in KD-tree
        # queries, outside the GIL) runs here, the three others on a second thread.
        others = threading.Thread(target=lambda: [run(i) for i in (0, 1, 3)], daemon=True)
        others.start()
        run(2)
        others.join()
    else:
        for i in range(len(checks)):
            run(i)
            if isinstance(outcomes[i], BaseException):
                break
    parts: list[_Part] = []
    skipped: dict[str, str] = {}
    for outcome in outcomes:  # the first failing check's error, as if run one after another
        if isinstance(outcome, BaseException):
            raise outcome
        parts += outcome[0]
        skipped.update(outcome[1])
    out = _assemble(parts)
    out.attrs["skipped_checks"] = skipped
    out.attrs["model_notes"] = notes.get("model", {})
    return out


def near_identical_flags(
    matches: pd.DataFrame, *, config: RiskConfig | Mapping[str, Any] | None = None
) -> pd.DataFrame:
    """Flag rows for near-identical texts found with ``supervision.flags.similarity``.

    ``matches`` has one row per (declaration, similar declaration of another enterprise):
    ``declaration_id``, ``version_id``, ``other_declaration_id``, ``other_enterprise_id``,
    ``similarity`` (0..1) and ``subject`` ("text" or "indicator_table").
    """
    cfg = RiskConfig.coerce(config)
    needed = ["declaration_id", "version_id", "other_declaration_id", "similarity", "subject"]
    missing = [c for c in needed if c not in matches.columns]
    if missing:
        raise ValueError(f"matches lacks the column(s) {missing}")
    code = "near_identical"
    bad = sorted(set(matches["subject"]) - {"text", "indicator_table"})
    if bad:
        raise ValueError(f"subject must be 'text' or 'indicator_table', got {bad}")
    rows = matches.to_dict("records")
    fr = _Frame(matches)
    keys, severity, evidence = [], [], []
    for row in rows:
        sim = float(row["similarity"])
        if not 0.0 <= sim <= 1.0:
            raise ValueError(f"similarity must be between 0 and 1, got {sim!r}")
        other = _key_text(row["other_declaration_id"])
        keys.append(f"{row['subject']}:{other}")
        severity.append(cfg.raised(code) if sim >= cfg.near_identical_high else cfg.severity[code])
        ev = {
            "subject": row["subject"],
            "other_declaration_id": _clean(row["other_declaration_id"]),
            "other_enterprise_id": _clean(row.get("other_enterprise_id")),
            "similarity": round(sim, 4),
        }
        # What the two share beyond what their category forces, and where (side by side).
        if _clean(row.get("shared")) is not None:
            ev["shared"] = int(_clean(row["shared"]))
        if isinstance(row.get("passages"), list):
            ev["passages"] = row["passages"]
        evidence.append(_with_reason(code, ev))
    part = _Part(fr, np.arange(len(rows)), code, severity, keys, evidence)
    return _assemble([part])


#: What ``text_unchecked`` evidence may name as the limit a text passed.
TEXT_LIMITS = ("pages", "content_bytes", "content_tokens", "seconds", "memory_mb", "failed")


def text_unchecked_flags(
    unchecked: pd.DataFrame, *, config: RiskConfig | Mapping[str, Any] | None = None
) -> pd.DataFrame:
    """Flag rows for standard texts the copy check could not read within its budget.

    ``unchecked`` has one row per declaration: ``declaration_id``, ``version_id``,
    ``exceeded`` (one of ``TEXT_LIMITS``) and ``limit`` (the limit passed; None when the
    reading process failed). A supervisor compares such a text by hand: a text built to
    exhaust the reader is itself a reason to look.
    """
    cfg = RiskConfig.coerce(config)
    needed = ["declaration_id", "version_id", "exceeded"]
    missing = [c for c in needed if c not in unchecked.columns]
    if missing:
        raise ValueError(f"unchecked lacks the column(s) {missing}")
    bad = sorted(set(unchecked["exceeded"]) - set(TEXT_LIMITS))
    if bad:
        raise ValueError(f"exceeded must be one of {TEXT_LIMITS}, got {bad}")
    code = "text_unchecked"
    rows = unchecked.to_dict("records")
    evidence = []
    for row in rows:
        ev = {"reason_id": f"{code}_{row['exceeded']}", "exceeded": row["exceeded"]}
        limit = _clean(row.get("limit"))
        if limit is not None:
            ev["limit"] = int(limit)
        evidence.append(_with_reason(code, ev))
    part = _Part(_Frame(unchecked), np.arange(len(rows)), code, cfg.severity[code],
                 [""] * len(rows), evidence)  # fmt: skip
    return _assemble([part])


def flag_key(code: str, evidence: Mapping[str, Any]) -> str:
    """The key of a flag within its version, from its evidence (stored flags have no column)."""
    if code in ("below_mandatory", "below_recommended_without_mingshi", "missing_test_method"):
        return str(evidence["indicator"])
    if code == "implausible_value":
        return COMBINATION if evidence.get("check") == "model" else str(evidence["indicator"])
    if code == "reference_withdrawn":
        return str(evidence["standard"])
    if code == "near_identical":
        return f"{evidence['subject']}:{_key_text(evidence['other_declaration_id'])}"
    if code in ("open_complaint", "leader", "text_unchecked"):
        return ""
    raise ValueError(f"unknown flag code {code!r}; known: {FLAG_CODES}")


def _keyed(flags: pd.DataFrame, name: str) -> pd.DataFrame:
    missing = [c for c in ("version_id", "code") if c not in flags.columns]
    if missing:
        raise ValueError(f"{name} lacks the column(s) {missing}")
    if "key" in flags.columns:
        return flags
    if "evidence" not in flags.columns:
        raise ValueError(f"{name} needs a 'key' or an 'evidence' column")
    keys = [flag_key(c, e) for c, e in zip(flags["code"].tolist(), flags["evidence"].tolist())]
    return flags.assign(key=keys)


_ID = ["version_id", "code", "key"]


def diff_flags(old: pd.DataFrame, new: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(to_open, to_clear)``: rows of ``new`` not open yet, rows of ``old`` whose cause went.

    Flags are matched on (version_id, code, key); ``key`` is computed with ``flag_key`` when a
    frame has no such column (e.g. flags loaded from the database with their evidence). Extra
    columns of ``old`` (such as the stored flag's id) come back in ``to_clear``. A flag in
    both is left alone; ``changed_flags`` tells which of those have new evidence or severity.
    """
    old_k, new_k = _keyed(old, "old"), _keyed(new, "new")
    old_ids = pd.MultiIndex.from_frame(old_k[_ID].astype({"key": str}))
    new_ids = pd.MultiIndex.from_frame(new_k[_ID].astype({"key": str}))
    to_open = new_k[~new_ids.isin(old_ids)].reset_index(drop=True)
    to_clear = old_k[~old_ids.isin(new_ids)].reset_index(drop=True)
    return to_open, to_clear


def changed_flags(old: pd.DataFrame, new: pd.DataFrame) -> pd.DataFrame:
    """Flags open in both whose severity or evidence differs: ``new``'s values, with the
    other columns of ``old`` (e.g. its id) attached, for the caller to update in place."""
    old_k, new_k = _keyed(old, "old"), _keyed(new, "new")
    old_k = old_k.astype({"key": str})
    new_k = new_k.astype({"key": str})
    extra = [c for c in old_k.columns if c not in new_k.columns]
    both = new_k.merge(
        old_k[_ID + extra + [c for c in ("severity", "evidence") if c in old_k.columns]],
        on=_ID,
        how="inner",
        suffixes=("", "_old"),
    )
    if both.empty:
        return both[list(new_k.columns) + extra]
    differs = np.zeros(len(both), dtype=bool)
    for col in ("severity", "evidence"):
        if f"{col}_old" in both.columns:
            differs |= np.array(
                [a != b for a, b in zip(both[col].tolist(), both[f"{col}_old"].tolist())]
            )
    return both.loc[differs, list(new_k.columns) + extra].reset_index(drop=True)


def risk_score(
    flags: pd.DataFrame,
    *,
    weights: Mapping[str, float] | None = None,
    config: RiskConfig | Mapping[str, Any] | None = None,
) -> pd.Series:
    """Risk per declaration for the sampling module: the sum over flag codes of the weight of
    the code's most severe flag (a code counts once, so six indicators without a test method
    do not outweigh a mandatory violation). Weights come from ``weights``, else the config.
    Declarations without flags are absent (score 0)."""
    cfg = RiskConfig.coerce(config)
    w = {**cfg.weights, **dict(weights or {})}
    for sev, weight in w.items():
        if sev not in SEVERITIES or not (isinstance(weight, (int, float)) and weight >= 0):
            raise ValueError(f"weights must map {SEVERITIES} to numbers >= 0, got {sev!r}: "
                             f"{weight!r}")
    if flags.empty:
        return pd.Series(dtype=float, name="risk").rename_axis("declaration_id")
    bad = sorted(set(flags["severity"]) - set(SEVERITIES))
    if bad:
        raise ValueError(f"unknown severity {bad}; known: {SEVERITIES}")
    weight = flags["severity"].map(w).astype(float)
    per_code = weight.groupby([flags["declaration_id"], flags["code"]], sort=True).max()
    score = per_code.groupby(level=0).sum()
    score.name = "risk"
    score.index.name = "declaration_id"
    return score
