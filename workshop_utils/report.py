"""Full evaluation, the release gate (like AWS Clean Rooms ML's thresholds) and the HTML report.

The report reads real rows (holdout distributions and associations, distances of training
rows, a model trained on real data): it is the data owner's internal document, stays under
``reports/`` and is never part of a release (see ``release`` for what may leave).
"""

from __future__ import annotations

import base64
import html
import io
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from . import anonymization_risks, attacks, evaluation, targeted_attack
from .dp import ledger_totals
from .progress import progress_bar
from .targeted_attack import ShadowSettings


@dataclass
class ReleasePolicy:
    """Thresholds the data owners set. A synthetic table is released only if all hold."""

    min_fidelity: float = 0.90
    # The structure between columns and what a model can learn from it: a table whose columns keep
    # their shapes but lose their dependence (pairs near independence, a regressor at R^2 ~ 0) fails.
    min_pair_fidelity: float = 0.85
    min_utility: float = 0.80  # TSTR/TRTR (ROC AUC, or R^2 for regression) of every declared target
    # (0 turns either structure check off: a ratio can be negative when R^2 on synthetic rows is)
    min_protection: float = 0.80
    max_exact_copy_rate: float = 0.0
    max_claimed_epsilon: float | None = 10.0  # None allows a non-private model (not recommended)

    def __post_init__(self) -> None:
        for name in ("min_fidelity", "min_pair_fidelity", "min_utility", "min_protection", "max_exact_copy_rate"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)}.")
        if self.max_claimed_epsilon is not None and self.max_claimed_epsilon <= 0:
            raise ValueError(f"max_claimed_epsilon must be positive or None, got {self.max_claimed_epsilon}.")


@dataclass
class Verdict:
    passed: bool
    reasons: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        return "PASS" if self.passed else "FAIL"


def gate(metrics: dict[str, Any], policy: ReleasePolicy) -> Verdict:
    """PASS only if every threshold holds; every failing check is listed, and passing ones too."""
    checks = [
        (
            metrics["fidelity"]["overall"] >= policy.min_fidelity,
            f"fidelity {metrics['fidelity']['overall']:.1%} vs minimum {policy.min_fidelity:.0%}",
        ),
        *_structure_checks(metrics, policy),
        (
            metrics["privacy"]["protection_score"] >= policy.min_protection,
            f"protection score {metrics['privacy']['protection_score']:.2f} vs minimum {policy.min_protection:.2f} "
            f"(strongest attack: {metrics['privacy'].get('strongest_attack', 'n/a')})",
        ),
        (
            metrics["privacy"]["exact_copy_rate"] <= policy.max_exact_copy_rate,
            f"exact copies {metrics['privacy']['exact_copy_rate']:.2%} vs maximum {policy.max_exact_copy_rate:.2%}",
        ),
    ]
    claimed = metrics.get("claimed_epsilon")
    if policy.max_claimed_epsilon is not None:
        ok = claimed is not None and np.isfinite(claimed) and claimed <= policy.max_claimed_epsilon
        checks.append(
            (
                ok,
                f"claimed epsilon {claimed if claimed is not None else 'none (no DP)'} vs maximum {policy.max_claimed_epsilon}",
            )
        )
    reasons = [("ok: " if ok else "FAILED: ") + text for ok, text in checks]
    return Verdict(all(ok for ok, _ in checks), reasons)


def _structure_checks(metrics: dict[str, Any], policy: ReleasePolicy) -> list[tuple[bool, str]]:
    """Pair fidelity (when computed) and the utility ratio of every declared target."""
    checks = []
    pairs = metrics["fidelity"].get("pairs_overall")
    if pairs is not None and policy.min_pair_fidelity > 0:
        checks.append(
            (pairs >= policy.min_pair_fidelity, f"pair fidelity {pairs:.1%} vs minimum {policy.min_pair_fidelity:.0%}")
        )
    for target, head in (metrics.get("utility_by_target") or {}).items() if policy.min_utility > 0 else ():
        ratio = head["ratio"]
        ok = ratio is not None and np.isfinite(ratio) and ratio >= policy.min_utility
        checks.append(
            (ok, f"utility for {target} (TSTR/TRTR {head['metric']}) {ratio:.2f} vs minimum {policy.min_utility:.2f}")
        )
    return checks


def evaluate(
    train: pd.DataFrame,
    holdout: pd.DataFrame,
    synthetic: pd.DataFrame,
    target: str | None,
    task: str = "classification",
    ledger: list[dict] | None = None,
    columns: list[str] | None = None,
    pairs: bool = True,
    max_pairs: int | None = 150,
    sdmetrics: bool = True,
    seed: int = 0,
    progress_desc: str = "evaluation",
    shadow: Callable[[int], Any] | None = None,
    shadow_settings: ShadowSettings | None = None,
    anonymeter: bool = True,
    also_predict: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Fidelity (vs the real holdout), ML utility (TSTR vs TRTR) and the privacy attacks: DCR and
    DOMIAS, the targeted shadow-model attack when ``shadow`` builds shadow synthesizers (see
    ``targeted_attack.shadows_of``), and anonymeter's three risks. The protection score and the
    empirical epsilon come from the strongest attack. ``also_predict`` ({column: task}) adds the
    utility of more declared targets (the gate checks each)."""
    if columns is None:  # compare what the synthesizer modeled: drop columns it left empty (ids, excluded)
        columns = [
            c
            for c in synthetic.columns
            if c in holdout.columns
            and synthetic[c].notna().any()
            and not synthetic[c].astype(str).str.startswith("SYN-").all()
        ]
    claimed, delta = ledger_totals(ledger) if ledger else (None, 0.0)
    skipped: list[str] = []  # why the targeted attack could not run, if it could not
    steps = {
        "fidelity": lambda: evaluation.fidelity_score(
            holdout, synthetic, columns, pairs=pairs, max_pairs=max_pairs, seed=seed
        ),
        "sdmetrics": lambda: evaluation.sdmetrics_quality(holdout, synthetic, columns) if sdmetrics else None,
        "utility": lambda: (
            evaluation.ml_utility(
                train[columns],
                synthetic[columns],
                holdout[columns],
                target,
                task,
                models=("gradient_boosting", "linear"),
                seed=seed,
            )
            if target
            else None
        ),
        "utility of the other targets": lambda: {
            t: evaluation.ml_utility(train[columns], synthetic[columns], holdout[columns], t, k, seed=seed)["headline"]
            for t, k in (also_predict or {}).items()
            if t in columns and t != target
        },
        "privacy": lambda: attacks.membership_inference(train, holdout, synthetic, columns, delta=delta, seed=seed),
        "shadow attack": lambda: (
            _shadow_attack_or_none(
                lambda: targeted_attack.shadow_attack(
                    train, holdout, shadow, shadow_settings, len(synthetic), columns, delta=delta, seed=seed
                ),
                skipped,
            )
            if shadow is not None
            else None
        ),
        "anonymeter": lambda: (
            anonymization_risks.anonymeter_risks(train, holdout, synthetic, columns, secret=target)
            if anonymeter
            else None
        ),
    }
    results, timings = {}, {}
    bar = progress_bar(list(steps), desc=progress_desc)
    for name in bar:
        start = time.perf_counter()
        results[name] = steps[name]()
        timings[name] = time.perf_counter() - start
        bar.set_postfix(done=name)
    fidelity, sdm, utility, privacy = (results[k] for k in ("fidelity", "sdmetrics", "utility", "privacy"))
    privacy = strongest_attack(privacy, results["shadow attack"]) | {"anonymeter": results["anonymeter"]}
    if skipped:
        privacy["targeted_not_run"] = skipped[0]
    by_target = ({target: utility["headline"]} if utility else {}) | results["utility of the other targets"]
    return {
        "columns": columns,
        "fidelity": fidelity,
        "sdmetrics_quality": sdm,
        "utility": utility,
        "utility_by_target": {t: {k: h[k] for k in ("metric", "ratio")} for t, h in by_target.items()},
        "privacy": privacy,
        "claimed_epsilon": claimed,
        "claimed_delta": delta,
        "seconds": timings,
        "rows": {"train": len(train), "holdout": len(holdout), "synthetic": len(synthetic)},
    }


def _shadow_attack_or_none(run: Callable[[], Any], skipped: list[str]) -> Any:
    """The targeted attack, or None when its shadows cannot be fitted the way the real model was
    (fewer rows than a DP fit at this epsilon accepts): the gate then rests on the other attacks and
    the report says why."""
    from .synth import SynthesizerError

    try:
        return run()
    except SynthesizerError as exc:
        skipped.append(f"targeted attack not run: its shadow synthesizers could not be fitted ({exc})")
        print(skipped[-1])
        return None


def strongest_attack(untargeted: dict[str, Any], targeted: dict[str, Any] | None) -> dict[str, Any]:
    """The gate's privacy numbers from the strongest attack: the lowest protection score, the
    highest AUC and the highest empirical epsilon over DCR, DOMIAS and the targeted attack (its
    rare targets pooled). DCR keeps its own entry: it is the score Clean Rooms ML reports."""
    out = dict(untargeted) | {"targeted": targeted}
    rows = [(a["attack"], a["auc"], a["protection"], a["empirical_epsilon_lower_bound"]) for a in untargeted["attacks"]]
    if targeted is not None:
        auc = targeted["rare_targets"]["auc"]
        rows.append((targeted["attack"], auc, attacks.protection_score(auc), targeted["empirical_epsilon_lower_bound"]))
    strongest = min(rows, key=lambda r: r[2])
    out["strongest_attack"] = strongest[0]
    out["protection_score"] = strongest[2]
    out["max_auc"] = max(r[1] for r in rows)
    out["empirical_epsilon_lower_bound"] = max(r[3] for r in rows)
    return out


INTERNAL_NOTICE = (
    "INTERNAL: for the data owner only. This report is computed from real rows (holdout "
    "distributions and associations, distances of training rows, models trained on real data). "
    "It is not covered by the differential-privacy guarantee and must not be shared; what may "
    "be shared is the release bundle under released/."
)


def summary_frame(metrics: dict[str, Any]) -> pd.DataFrame:
    rows = [("fidelity (mean exp(-KL), columns)", f"{metrics['fidelity']['overall']:.1%}")]
    if metrics["fidelity"].get("pairs_overall") is not None:
        rows.append(("fidelity (column pairs)", f"{metrics['fidelity']['pairs_overall']:.1%}"))
    if metrics.get("sdmetrics_quality") is not None:
        rows.append(("SDMetrics quality score", f"{metrics['sdmetrics_quality']:.1%}"))
    if metrics.get("utility"):
        h = metrics["utility"]["headline"]
        rows.append(
            (
                f"ML utility TSTR / TRTR ({h['metric']})",
                f"{h['TSTR'][h['metric']]:.3f} / {h['TRTR'][h['metric']]:.3f} = {h['ratio']:.2f}",
            )
        )
    p = metrics["privacy"]
    for a in p["attacks"]:
        rows.append(
            (
                f"attack: {a['attack']}",
                f"AUC {a['auc']:.3f}, TPR@1%FPR {a['tpr_at_1pct_fpr']:.3f}, protection {a['protection']:.2f}",
            )
        )
    t = p.get("targeted")
    if t is not None:
        r = t["rare_targets"]
        rows.append(
            (
                f"attack: {t['attack']} ({len(t['targets'])} targets, {t['games_per_target']} games each)",
                f"rare targets AUC {r['auc']:.3f}, TPR@1%FPR {r['tpr_at_1pct_fpr']:.3f}; DCR on the same games "
                f"AUC {r['dcr_auc']:.3f}",
            )
        )
    rows.append(
        ("strongest attack (the gate's protection score)", f"{p['strongest_attack']}: {p['protection_score']:.2f}")
    )
    for name, risk in (p.get("anonymeter") or {}).items():
        if isinstance(risk, dict):
            value = risk.get("risk")
            rows.append(
                (
                    f"anonymeter: {name.replace('_', ' ')} risk",
                    f"{value:.3f} (95% CI {risk['ci_low']:.3f} to {risk['ci_high']:.3f})"
                    if value is not None
                    else f"not computed: {risk['not_computed']}",
                )
            )
    rows.append(("exact copies of training rows", f"{p['exact_copy_rate']:.2%}"))
    claimed = metrics.get("claimed_epsilon")
    rows.append(
        (
            "epsilon: claimed (ledger) vs empirical lower bound",
            f"{claimed if claimed is not None else 'no DP'} vs {p['empirical_epsilon_lower_bound']:.2f}",
        )
    )
    lifetime = metrics.get("lifetime_budget")
    if lifetime:
        rows.append(
            (
                "lifetime budget of the source table: spent / cap",
                f"{lifetime['spent_epsilon']:.3g} / {lifetime['cap_epsilon']:g} over {lifetime['charges']} fit(s)",
            )
        )
    return pd.DataFrame(rows, columns=["metric", "value"])


def _png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def figures(metrics: dict[str, Any], holdout: pd.DataFrame, synthetic: pd.DataFrame) -> dict[str, Any]:
    """The report's plots: distributions, association heatmaps, the targeted attack per target (when
    it ran) and the distance to closest record."""
    cols = metrics["columns"]
    plots = {
        "Real vs synthetic distributions": evaluation.plot_distributions(
            holdout, synthetic, cols, metrics["fidelity"]["columns"]
        ),
        "Associations: real, synthetic, difference": evaluation.plot_correlations(holdout, synthetic, cols),
    }
    if metrics["privacy"].get("targeted"):
        plots["Targeted shadow-model attack, per target"] = targeted_attack.plot_targets(
            metrics["privacy"]["targeted"]
        ).figure
    return plots | {"Distance to closest record": attacks.plot_dcr(metrics["privacy"]).figure}


def html_report(
    metrics: dict[str, Any], verdict: Verdict, figures: dict[str, Any], title: str = "Synthetic data report"
) -> str:
    """A self-contained HTML page: verdict, summary table, per-column scores, embedded plots."""
    color = "#27ae60" if verdict.passed else "#c0392b"
    parts = [
        f"<html><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
        "<style>body{font-family:sans-serif;max-width:1100px;margin:auto}td,th{padding:3px 10px;border-bottom:1px solid #ddd}"
        "img{max-width:100%}</style></head><body>",
        f"<p style='background:#c0392b;color:white;padding:8px;font-weight:bold'>{html.escape(INTERNAL_NOTICE)}</p>",
        f"<h1>{html.escape(title)}</h1>",
        f"<h2 style='color:{color}'>Release gate: {verdict.label}</h2><ul>",
        *[f"<li>{html.escape(r)}</li>" for r in verdict.reasons],
        "</ul>",
        "<h2>Summary</h2>",
        summary_frame(metrics).to_html(index=False),
        "<h2>Fidelity per column (exp(-KL))</h2>",
        pd.Series(metrics["fidelity"]["columns"], name="score").round(4).to_frame().to_html(),
    ]
    targeted = metrics["privacy"].get("targeted")
    if targeted:
        parts += [
            "<h2>Targeted attack: what the attacker knew</h2>",
            f"<p>{html.escape(targeted['threat_model'])}</p>",
            f"<p>Settings: {html.escape(json.dumps(targeted['settings']))}</p>",
            pd.DataFrame(targeted["targets"]).round(3).to_html(index=False),
        ]
    for name, fig in figures.items():
        parts.append(f"<h2>{html.escape(name)}</h2><img src='data:image/png;base64,{_png(fig)}'/>")
    parts.append(
        "<h2>All metrics (JSON)</h2><pre>" + html.escape(json.dumps(_jsonable(metrics), indent=1)[:20000]) + "</pre>"
    )
    parts.append(
        "<p>The differential-privacy claim (the epsilon of the model's ledger) covers the model and the "
        "synthetic rows it generates, not this report: the report itself is computed from real rows and "
        "stays with the data owner. The empirical bound is what these attacks prove, which can only be "
        "lower. Neither makes the data anonymous in an absolute sense.</p>"
    )
    return "\n".join(parts + ["</body></html>"])


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _jsonable(v) for k, v in obj.items() if k != "dcr"} | (
            {"dcr_medians": {k: v for k, v in obj["dcr"].items() if "median" in k}} if "dcr" in obj else {}
        )
    if isinstance(obj, list):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, (np.floating, np.integer)):
        return obj.item()
    return obj


def to_json(metrics: dict[str, Any], verdict: Verdict, policy: ReleasePolicy) -> dict[str, Any]:
    return {
        "notice": INTERNAL_NOTICE,
        "metrics": _jsonable(metrics),
        "verdict": asdict(verdict) | {"label": verdict.label},
        "policy": asdict(policy),
    }


def plot_frontier(frontier: pd.DataFrame) -> Any:
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(14, 3.6))
    finite = frontier["epsilon"].notna()
    x = frontier["epsilon"].where(finite, frontier["epsilon"].max() * 3 if finite.any() else 1).astype(float)
    for ax, col, title in zip(
        axes, ["fidelity", "tstr_ratio", "attack_auc"], ["fidelity", "TSTR / TRTR", "attack AUC (max)"]
    ):
        ax.plot(x, frontier[col], "o-")
        ax.set_xscale("log")
        ax.set_xlabel("epsilon (rightmost point: no DP)")
        ax.set_title(title)
    fig.tight_layout()
    return fig
