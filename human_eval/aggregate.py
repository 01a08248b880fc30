"""Votes → numbers with honest uncertainty (`bench human-eval results`).

- pairwise: per question and ordered system pair, wins/ties/losses; value = win share
  wins / n (ties count in n) with a Wilson 95 % interval;
- bradley_terry (more than two systems): per question, log-strengths (mean 0) fitted by choix's
  ILSR on a comparison matrix where a tie is half a win each way; percentile CIs from a
  bootstrap over raters (a rater's votes move together);
- rating: OVL / REL means × 10 with a Student-t 95 % interval clipped to the scale (10–100);
- rater quality: attention-check failures, straight-lining and too-fast answers, with the
  exclusion rule applied before any of the above and reported;
- agreement: Krippendorff's α across raters (nominal for pairwise, interval for ratings).
Attention-check items never enter the results.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from human_eval.assign import PAIRWISE_QUESTIONS, RATING_QUESTIONS

RESULT_COLUMNS = ["study", "kind", "question", "system", "opponent", "wins", "ties", "losses", "n", "value",
                  "ci_low", "ci_high"]
Z95 = 1.959963984540054
RATING_MIN, RATING_MAX = 1.0, 10.0  # the OVL/REL answer scale (reported ×10: 10..100)


@dataclass
class ExclusionRule:
    """A rater is excluded when any enabled criterion fires (None disables one)."""

    max_check_failures: int | None = 0  # more failed attention checks than this
    straightline_share: float | None = 0.9  # one answer in at least this share of their pairwise answers
    straightline_min_items: int = 5  # ... over at least this many answers
    min_median_s: float | None = 3.0  # median time per item below this


@dataclass
class Aggregate:
    table: pd.DataFrame
    raters: pd.DataFrame
    agreement: dict = field(default_factory=dict)
    rule: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)


def wilson(k: float, n: float, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of a proportion k/n."""
    if n <= 0:
        return (math.nan, math.nan)
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def mean_ci(values: np.ndarray) -> tuple[float, float, float]:
    from scipy import stats

    values = np.asarray(values, float)
    m = float(values.mean()) if values.size else math.nan
    if values.size < 2:
        return m, math.nan, math.nan
    half = float(stats.t.ppf(0.975, values.size - 1) * values.std(ddof=1) / math.sqrt(values.size))
    return m, m - half, m + half


def rater_quality(votes: pd.DataFrame, rule: ExclusionRule) -> pd.DataFrame:
    """One row per rater: attention checks and failures, top-answer share, median seconds per
    item (over every item: each vote has a time spent), and the exclusion decision with reasons.
    Grouped operations only (a 200-rater study in milliseconds, not a loop of frame filters)."""
    columns = ["rater", "items", "checks", "check_failures", "top_answer_share", "median_s", "excluded", "reasons"]
    if not len(votes):
        return pd.DataFrame(columns=columns)
    raters = sorted(votes["rater"].unique())
    items = votes.groupby("rater")["item"].nunique()
    checks = votes[votes["check"].notna() & (votes["question"] == "overall")]
    # both sides of a check are the same system, so the answer is read in A/B (media) terms
    left = checks["answer"].to_numpy() == "left"
    outcome = np.where(checks["answer"].to_numpy() == "tie", "tie",
                       np.where(left == checks["a_on_left"].astype(bool).to_numpy(), "a", "b"))
    failed = pd.Series(outcome != checks["expected"].to_numpy(), index=checks.index).groupby(checks["rater"]).sum()
    n_checks = checks.groupby("rater").size()
    pair = votes[(votes["kind"] == "pairwise") & votes["check"].isna()]
    counts = pair.groupby(["rater", "answer"]).size().unstack(fill_value=0) if len(pair) else pd.DataFrame()
    per_item = votes.groupby(["rater", "item"])["time_spent_ms"].first().dropna() / 1000
    median_s = per_item.groupby(level=0).median()
    rows = []
    for rater in raters:
        n_pair = int(counts.loc[rater].sum()) if rater in counts.index else 0
        share = float(counts.loc[rater].max() / n_pair) if n_pair else 0.0
        top = str(counts.loc[rater].idxmax()) if n_pair else ""
        failures = int(failed.get(rater, 0))
        med = float(median_s.get(rater, math.nan))
        reasons = []
        if rule.max_check_failures is not None and failures > rule.max_check_failures:
            reasons.append(f"failed {failures} attention check(s)")
        if rule.straightline_share is not None and n_pair >= rule.straightline_min_items and share >= rule.straightline_share:
            reasons.append(f"straight-lining ({share:.0%} '{top}')")
        if rule.min_median_s is not None and not math.isnan(med) and med < rule.min_median_s:
            reasons.append(f"too fast (median {med:.1f} s per item)")
        rows.append(dict(rater=rater, items=int(items.get(rater, 0)), checks=int(n_checks.get(rater, 0)),
                         check_failures=failures, top_answer_share=round(share, 3), median_s=med,
                         excluded=bool(reasons), reasons="; ".join(reasons)))
    return pd.DataFrame(rows, columns=columns)


def _check_outcome(row) -> str:
    """A check's 'overall' answer in A/B terms (the page showed A on the left when a_on_left)."""
    if row["answer"] == "tie":
        return "tie"
    return "a" if (row["answer"] == "left") == bool(row["a_on_left"]) else "b"


def pairwise_rows(votes: pd.DataFrame, study: str, systems: list[str]) -> list[dict]:
    """Per question and ordered pair (s, o): s's wins, ties, losses over their comparisons."""
    rows = []
    pv = votes[(votes["kind"] == "pairwise") & votes["check"].isna()]
    if not len(pv):
        return rows
    sa, sb, winner = (pv[c].to_numpy(object) for c in ("system_a", "system_b", "winner"))
    first = np.where(sa <= sb, sa, sb)  # the unordered pair, in a fixed order
    second = np.where(sa <= sb, sb, sa)
    outcome = np.where(winner == "tie", "tie", np.where(winner == first, "first", "second"))
    counts = pd.DataFrame({"question": pv["question"].to_numpy(object), "first": first, "second": second,
                           "outcome": outcome}).groupby(["question", "first", "second", "outcome"]).size()
    got = counts.to_dict()
    for q in PAIRWISE_QUESTIONS:
        for s in systems:
            for o in systems:
                if s == o:
                    continue
                f, g = (s, o) if s <= o else (o, s)
                c = {k: got.get((q, f, g, k), 0) for k in ("first", "second", "tie")}
                n = c["first"] + c["second"] + c["tie"]
                if not n:
                    continue
                w, t = (c["first"] if s == f else c["second"]), c["tie"]
                lo, hi = wilson(w, n)
                rows.append(dict(study=study, kind="pairwise", question=q, system=s, opponent=o, wins=w, ties=t,
                                 losses=n - w - t, n=n, value=w / n, ci_low=lo, ci_high=hi, method="wilson"))
    return rows


def comparison_matrix(votes: pd.DataFrame, systems: list[str]) -> np.ndarray:
    """M[i, j] = times system i beat system j; a tie adds ½ to both."""
    idx = {s: i for i, s in enumerate(systems)}
    mat = np.zeros((len(systems), len(systems)))
    for a, b, w in zip(votes["system_a"], votes["system_b"], votes["winner"]):
        i, j = idx[a], idx[b]
        if w == "tie":
            mat[i, j] += 0.5
            mat[j, i] += 0.5
        elif w == a:
            mat[i, j] += 1
        else:
            mat[j, i] += 1
    return mat


def rater_matrices(votes: pd.DataFrame, systems: list[str], raters) -> np.ndarray:
    """`comparison_matrix` of each rater's votes at once: raters × k × k."""
    k = len(systems)
    out = np.zeros((len(raters), k, k))
    if not len(votes):
        return out
    r_idx = pd.Index(raters).get_indexer(votes["rater"])
    s_idx = pd.Index(systems)
    i, j = s_idx.get_indexer(votes["system_a"]), s_idx.get_indexer(votes["system_b"])
    winner = votes["winner"].to_numpy(object)
    tie = (winner == "tie").astype(float)
    np.add.at(out, (r_idx, i, j), (winner == votes["system_a"].to_numpy(object)) + 0.5 * tie)
    np.add.at(out, (r_idx, j, i), (winner == votes["system_b"].to_numpy(object)) + 0.5 * tie)
    return out


def bradley_terry(mat: np.ndarray, alpha: float = 0.01) -> np.ndarray:
    """Log-strengths θ (mean 0) maximising Σ M_ij log σ(θ_i − θ_j) (+ α-regularised)."""
    import choix

    params = choix.ilsr_pairwise_dense(mat, alpha=alpha, max_iter=1000)
    return params - params.mean()


def bradley_terry_batch(mats: np.ndarray, alpha: float = 0.01, max_iter: int = 1000, tol: float = 1e-8) -> np.ndarray:
    """`bradley_terry` of many comparison matrices at once (B × k × k → B × k): choix's ILSR
    (the stationary distribution of the LSR Markov chain, rates initialised at α, iterated)
    on the whole batch with numpy, so a 1,000-replicate bootstrap costs milliseconds, not one
    Python fit per replicate. A replicate whose chain is singular gives NaN."""
    mats = np.asarray(mats, float)
    b, k, _ = mats.shape
    params = np.zeros((b, k))
    ones = np.zeros((b, k))
    ones[:, -1] = 1.0
    for _ in range(max_iter):
        w = np.exp(params - params.mean(axis=1, keepdims=True))
        w *= k / w.sum(axis=1, keepdims=True)  # choix's exp_transform: weights summing to k
        chain = alpha + np.transpose(mats, (0, 2, 1)) / (w[:, :, None] + w[:, None, :])
        idx = np.arange(k)
        chain[:, idx, idx] = 0.0
        chain[:, idx, idx] = -chain.sum(axis=2)
        system = np.transpose(chain, (0, 2, 1)).copy()  # π Q = 0 as Qᵀ πᵀ = 0 ...
        system[:, -1, :] = 1.0  # ... with Σ π = 1 in place of one (redundant) equation
        with np.errstate(all="ignore"):
            try:
                pi = np.linalg.solve(system, ones[..., None])[..., 0]
            except np.linalg.LinAlgError:
                pi = np.stack([_solve_or_nan(system[i], ones[i]) for i in range(b)])
            new = np.log(np.where(pi > 0, pi, np.nan))
        new -= new.mean(axis=1, keepdims=True)
        done = np.nansum(np.abs(new - params), axis=1) < tol
        params = np.where(np.isnan(new), np.nan, new)
        if done.all() or np.isnan(params).all():
            break
        params = np.nan_to_num(params, nan=0.0) if not np.isnan(params).any() else params
    return params


def _solve_or_nan(a: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    try:
        return np.linalg.solve(a, rhs)
    except np.linalg.LinAlgError:
        return np.full(len(rhs), np.nan)


def bt_rows(votes: pd.DataFrame, study: str, systems: list[str], n_boot: int, seed: int, alpha: float) -> list[dict]:
    rows = []
    pv = votes[(votes["kind"] == "pairwise") & votes["check"].isna()]
    rng = np.random.default_rng(seed)
    raters = np.array(sorted(pv["rater"].unique()))
    k = len(systems)
    for q in PAIRWISE_QUESTIONS:
        stack = rater_matrices(pv[pv["question"] == q], systems, raters)  # raters × k × k
        if not stack.any():
            continue
        total = stack.sum(axis=0)
        est = bradley_terry(total, alpha)
        # a rater bootstrap: replicate b counts how often each rater was drawn; its matrix is
        # the count-weighted sum of the raters' matrices (a rater's votes move together)
        counts = rng.multinomial(len(raters), np.full(len(raters), 1 / len(raters)), size=n_boot)
        boots = (bradley_terry_batch((counts @ stack.reshape(len(raters), k * k)).reshape(n_boot, k, k), alpha)
                 if n_boot else np.full((1, k), np.nan))
        for i, s in enumerate(systems):
            wins = float(total[i].sum())
            n = float(total[i].sum() + total[:, i].sum())
            rows.append(dict(study=study, kind="bradley_terry", question=q, system=s, opponent=None,
                             wins=wins, ties=None, losses=n - wins, n=n, value=float(est[i]),
                             ci_low=float(np.nanpercentile(boots[:, i], 2.5)),
                             ci_high=float(np.nanpercentile(boots[:, i], 97.5)), method=f"choix-ilsr/bootstrap-raters-{n_boot}"))
    return rows


def rating_rows(votes: pd.DataFrame, study: str, systems: list[str]) -> list[dict]:
    rows = []
    sv = votes[votes["kind"] == "single"]
    for q in RATING_QUESTIONS:
        for s in systems:
            vals = sv[(sv["question"] == q) & (sv["system_a"] == s)]["answer"].astype(float).to_numpy()
            if vals.size == 0:
                continue
            m, lo, hi = mean_ci(vals)
            # the t interval is symmetric and can run past the scale with few ratings (n=2: 65
            # [−125.6, 255.6]); the scale's ends are certain bounds, so it is clipped to them
            lo, hi = (max(RATING_MIN, lo), min(RATING_MAX, hi)) if vals.size >= 2 else (lo, hi)
            rows.append(dict(study=study, kind="rating", question=q, system=s, opponent=None, wins=None, ties=None,
                             losses=None, n=int(vals.size), value=10 * m, ci_low=10 * lo, ci_high=10 * hi,
                             method="t, clipped to the 1-10 scale"))
    return rows


def krippendorff_alpha(units: list[list], metric: str = "nominal") -> float:
    """Krippendorff's α over units (lists of the values raters gave one item; ≥ 2 to count)."""
    units = [u for u in units if len(u) >= 2]
    values = sorted({v for u in units for v in u})
    if len(values) < 2 or not units:
        return math.nan
    idx = {v: i for i, v in enumerate(values)}
    counts = np.zeros((len(units), len(values)))
    for row, u in enumerate(units):
        for v in u:
            counts[row, idx[v]] += 1
    return krippendorff_from_counts(counts, values, metric)


def krippendorff_from_counts(counts: np.ndarray, values: list, metric: str = "nominal") -> float:
    """Krippendorff's α from a units × values matrix of how many raters gave each value; units
    with fewer than two values do not count. The coincidence matrix in one product:
    o = Σ_u (c_u c_uᵀ − diag c_u) / (m_u − 1) = Cᵀ W C − diag(Σ_u c_u / (m_u − 1))."""
    counts = np.asarray(counts, float)
    m = counts.sum(axis=1)
    counts, m = counts[m >= 2], m[m >= 2]
    if len(values) < 2 or not len(counts):
        return math.nan
    w = 1.0 / (m - 1)
    o = (counts * w[:, None]).T @ counts - np.diag((counts * w[:, None]).sum(axis=0))
    n_c = o.sum(axis=1)
    n = n_c.sum()
    vals = np.array(values, float) if metric == "interval" else None
    delta = (np.subtract.outer(vals, vals) ** 2) if metric == "interval" else 1.0 - np.eye(len(values))
    d_o = (o * delta).sum() / n
    d_e = (np.outer(n_c, n_c) * delta).sum() / (n * (n - 1))
    return float(1 - d_o / d_e) if d_e > 0 else math.nan


def agreement(votes: pd.DataFrame) -> dict:
    out = {}
    reg = votes[votes["check"].isna()]
    for q in (*PAIRWISE_QUESTIONS, *RATING_QUESTIONS):
        vq = reg[reg["question"] == q]
        # pairwise answers in system terms, so A-on-the-left and A-on-the-right showings agree
        value = vq["winner"].astype(str) if q in PAIRWISE_QUESTIONS else vq["answer"].astype(float)
        units, _ = pd.factorize(vq["item"])
        codes, values = pd.factorize(value, sort=True)
        table = np.zeros((units.max() + 1 if len(units) else 0, len(values)))
        np.add.at(table, (units, codes), 1.0)
        alpha = (krippendorff_from_counts(table, list(values), "nominal" if q in PAIRWISE_QUESTIONS else "interval")
                 if table.size else math.nan)
        out[q] = {"krippendorff_alpha": None if math.isnan(alpha) else round(alpha, 4),
                  "items_with_2plus": int((table.sum(axis=1) >= 2).sum()) if table.size else 0}
    return out


def aggregate(votes: pd.DataFrame, study: str, rule: ExclusionRule | None = None, systems: list[str] | None = None,
              n_boot: int = 1000, seed: int = 0, bt_alpha: float = 0.01) -> Aggregate:
    rule = rule or ExclusionRule()
    if systems is None:
        systems = sorted(set(votes["system_a"].dropna()) | set(votes["system_b"].dropna()))
    quality = rater_quality(votes, rule)
    excluded = set(quality.loc[quality["excluded"], "rater"])
    kept = votes[~votes["rater"].isin(excluded)]
    notes = [f"excluded rater {r}: {why}" for r, why in zip(quality["rater"], quality["reasons"]) if why]
    rows = pairwise_rows(kept, study, systems) + rating_rows(kept, study, systems)
    if len(systems) > 2:
        rows += bt_rows(kept, study, systems, n_boot, seed, bt_alpha)
    table = pd.DataFrame(rows, columns=[*RESULT_COLUMNS, "method"])
    for col in ("wins", "ties", "losses", "n", "value", "ci_low", "ci_high"):
        table[col] = table[col].astype(float)
    return Aggregate(table, quality, agreement(kept), asdict(rule), notes)


def results_payload(db, study_id: str, rule: ExclusionRule | None = None) -> dict:
    """Everything `bench human-eval results` reports, as JSON: the results table, every rater's
    quality row, who was excluded and why, notes, agreement and the rule applied."""
    import json

    from human_eval.export import votes_frame
    from human_eval.models import Study

    with db.read() as s:
        study = s.get(Study, study_id)
    systems = json.loads(study.systems) if study is not None else None  # as `bench human-eval results`
    res = aggregate(votes_frame(db, study_id, timestamps=False), study_id, rule or ExclusionRule(), systems=systems)

    def records(frame: pd.DataFrame) -> list:
        return json.loads(frame.to_json(orient="records"))

    raters = records(res.raters)
    return {"study": study_id, "rule": res.rule, "results": records(res.table), "raters": raters,
            "excluded": [{"rater": r["rater"], "reasons": r["reasons"]} for r in raters if r["excluded"]],
            "notes": res.notes, "agreement": res.agreement}
