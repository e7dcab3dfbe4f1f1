"""One accountant for a whole fit: the preprocessing mechanisms and DP-SGD, planned together.

Every mechanism that reads the real rows is a Gaussian mechanism (the preprocessing's noisy
counts) or DP-SGD (a Poisson-subsampled Gaussian, composed over its steps). Their privacy loss
distributions compose exactly (Google's ``dp-accounting``, PLD accountant, add-or-remove-one
neighbours), which is far tighter than adding up small pure-epsilon pieces.

The plan is made before the data is touched, from public settings only (epsilon, delta, the row
count, batch size, epochs, and which columns need a mechanism):

* The preprocessing gets ``preprocessing_share`` of the budget in zero-concentrated terms: the
  whole (epsilon, delta) is worth rho_total (the rho of the one Gaussian mechanism with that
  epsilon at that delta, analytic), each of the m preprocessing mechanisms gets
  ``share * rho_total / m``, hence noise multiplier 1 / sqrt(2 rho).
* The partition selection of the category domains also spends a fixed slice ``delta_selection``
  of delta (the chance that a category only one row has is released), added outside the PLD.
* DP-SGD's noise multiplier is then the smallest one for which the composition of everything
  stays within epsilon at the remaining delta (a bisection over the PLD of the composition).
"""

from __future__ import annotations

import functools
import math
from dataclasses import asdict, dataclass, field

import dp_accounting as dpa
from dp_accounting import gaussian_mechanism
from dp_accounting.pld import pld_privacy_accountant

# PLD discretisation: pessimistic (an upper bound on epsilon); 1e-3 keeps a 10,000-step
# composition at ~0.05 s and moves epsilon by < 0.2% against 1e-4.
_DISCRETIZATION = 1e-3
# Share of delta for the partition selection of undeclared category domains.
SELECTION_DELTA_SHARE = 0.1


@dataclass
class GaussianStep:
    """One preprocessing mechanism: Gaussian noise of standard deviation ``sigma`` on counts whose
    L2 sensitivity (one row added or removed) is ``sensitivity``."""

    name: str
    columns: list[str]
    sensitivity: float
    sigma: float
    weight: float = 1.0  # its share of the preprocessing rho, against 1 for a full step

    @property
    def noise_multiplier(self) -> float:
        return self.sigma / self.sensitivity


@dataclass
class PrivacyPlan:
    """How one fit spends its (epsilon, delta), decided before the data is touched."""

    epsilon: float | None
    delta: float
    preprocessing_share: float
    steps: list[GaussianStep] = field(default_factory=list)
    delta_selection: float = 0.0  # partition selection, outside the PLD
    sgd_noise_multiplier: float | None = None
    sample_rate: float = 0.0
    sgd_steps: int = 0

    @property
    def private(self) -> bool:
        return self.epsilon is not None

    @property
    def delta_accounted(self) -> float:
        """The delta at which the PLD composition is evaluated."""
        return self.delta - self.delta_selection

    @property
    def preprocessing_weight(self) -> float:
        """The steps' weights together: the preprocessing rho is split in proportion to them."""
        return float(sum(s.weight for s in self.steps))

    def step(self, name: str) -> GaussianStep | None:
        return next((s for s in self.steps if s.name == name), None)

    def composed_epsilon(self, sgd_steps_done: int | None = None) -> float:
        """Epsilon of everything planned (DP-SGD after ``sgd_steps_done`` steps, default all of them)."""
        steps = self.sgd_steps if sgd_steps_done is None else sgd_steps_done
        return _composed_epsilon(
            tuple(s.noise_multiplier for s in self.steps),
            self.sgd_noise_multiplier or 0.0,
            self.sample_rate,
            steps if self.sgd_noise_multiplier else 0,
            self.delta_accounted,
        )

    def standalone_epsilon(self, noise_multiplier: float) -> float:
        """Epsilon of one Gaussian mechanism alone at the fit's accounted delta (for the ledger)."""
        return float(gaussian_mechanism.get_epsilon_gaussian(noise_multiplier, self.delta_accounted))

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> PrivacyPlan:
        data = dict(data)
        data["steps"] = [GaussianStep(**s) for s in data.get("steps", [])]
        return cls(**data)


def plan_fit(
    epsilon: float | None,
    delta: float,
    preprocessing: list[tuple[str, list[str], float, float]],
    selection: bool,
    sample_rate: float,
    sgd_steps: int,
    preprocessing_share: float,
) -> PrivacyPlan:
    """The plan of one fit. ``preprocessing`` lists (name, columns, L2 sensitivity, weight) of the
    Gaussian count mechanisms, each getting its weight's share of the preprocessing rho;
    ``selection``: one of them selects partitions (spends ``delta_selection``)."""
    if epsilon is None:
        return PrivacyPlan(None, 0.0, preprocessing_share, sample_rate=sample_rate, sgd_steps=sgd_steps)
    delta_selection = SELECTION_DELTA_SHARE * delta if selection else 0.0
    plan = PrivacyPlan(epsilon, delta, preprocessing_share, delta_selection=delta_selection)
    plan.sample_rate, plan.sgd_steps = sample_rate, sgd_steps
    total = sum(weight for *_, weight in preprocessing)
    multiplier = preprocessing_noise_multiplier(epsilon, plan.delta_accounted, preprocessing_share, total)
    plan.steps = [
        GaussianStep(name, cols, sens, sens * multiplier / math.sqrt(weight), weight)
        for name, cols, sens, weight in preprocessing
    ]
    plan.sgd_noise_multiplier = _calibrate_sgd(
        tuple(s.noise_multiplier for s in plan.steps), sample_rate, sgd_steps, epsilon, plan.delta_accounted
    )
    return plan


def preprocessing_noise_multiplier(epsilon: float, delta: float, share: float, mechanisms: float) -> float:
    """Noise multiplier of a full-weight preprocessing mechanism when mechanisms of total weight
    ``mechanisms`` share ``share`` of the budget's rho (a function of public settings only)."""
    if mechanisms == 0:
        return math.inf
    rho_total = 1.0 / (2.0 * _gaussian_multiplier(epsilon, delta) ** 2)
    return 1.0 / math.sqrt(2.0 * share * rho_total / mechanisms)


@functools.lru_cache(maxsize=512)
def _gaussian_multiplier(epsilon: float, delta: float) -> float:
    return float(gaussian_mechanism.get_sigma_gaussian(epsilon, delta))


def _events(pre: tuple[float, ...], sgd: float, sample_rate: float, steps: int) -> dpa.DpEvent:
    events: list[dpa.DpEvent] = [dpa.GaussianDpEvent(m) for m in pre]
    if steps and sgd:
        events.append(dpa.SelfComposedDpEvent(dpa.PoissonSampledDpEvent(sample_rate, dpa.GaussianDpEvent(sgd)), steps))
    return dpa.ComposedDpEvent(events)


# Deterministic functions of public settings; cached because shadow models and sweeps repeat them.
@functools.lru_cache(maxsize=2048)
def _composed_epsilon(pre: tuple[float, ...], sgd: float, sample_rate: float, steps: int, delta: float) -> float:
    accountant = pld_privacy_accountant.PLDAccountant(value_discretization_interval=_DISCRETIZATION)
    accountant.compose(_events(pre, sgd, sample_rate, steps))
    return float(accountant.get_epsilon(delta))


@functools.lru_cache(maxsize=256)
def _calibrate_sgd(pre: tuple[float, ...], sample_rate: float, steps: int, epsilon: float, delta: float) -> float:
    """The smallest DP-SGD noise multiplier (to 0.1%) whose composition with ``pre`` is within epsilon."""
    if _composed_epsilon(pre, 0.0, sample_rate, 0, delta) >= epsilon:
        raise ValueError("the preprocessing alone spends the whole epsilon; lower preprocessing_share")
    lo, hi = 0.05, 1.0
    while _composed_epsilon(pre, hi, sample_rate, steps, delta) > epsilon:
        lo, hi = hi, hi * 2
    while hi - lo > 1e-3 * hi:
        mid = (lo + hi) / 2
        if _composed_epsilon(pre, mid, sample_rate, steps, delta) > epsilon:
            lo = mid
        else:
            hi = mid
    return hi


def sgd_epsilon(plan: PrivacyPlan) -> float:
    """DP-SGD's epsilon alone at the plan's accounted delta (for the ledger)."""
    return _composed_epsilon((), plan.sgd_noise_multiplier, plan.sample_rate, plan.sgd_steps, plan.delta_accounted)
