"""Is a network's "larger α, smoother loop" more than what any power-law loop gives? (notebook 04)

Across the layers of a network, α of the moving-dot trajectory and the loop's normalised energy
E/tr Σ are linked by Stringer's theorem for *every* power-law code: random power-law loops with no
network show the same relation (Spearman ρ ≈ −0.9). A claim about the network therefore has to
beat that no-network null:

* :func:`random_loop_null` → :class:`LoopNull`: ``n_loops`` random power-law circle codes
  (``stimuli.power_law_circle_code``, α uniform on ``alpha_range``, random phases), their α
  measured with the same estimator and window as the layers, and the least-squares line
  ln(E/tr Σ) = a + b·α through them.
* :func:`smoothness_vs_null` → :class:`SmoothnessTest`: each layer's residual from that line;
  the slope of the residuals on α with a permutation test (α shuffled across layers), and the
  mean residual in units of the null's scatter; ``.claims()`` applies :func:`smoothness_verdict`.

The control is reported beside it: the same test on a randomly initialised network
(:meth:`SmoothnessTest.summary`), and the null loops' own ρ.

Notebook 04's other verdicts live here too: :func:`threshold_slopes_verdict` (energy-scaling
slopes against max(−1, 1 − d(α − 1)) on both sides of α = 1 + 2/d) and
:func:`projected_energy_verdict` (the mean projected energy against (k/m)·E_full).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

__all__ = ["LoopNull", "MAX_P", "MAX_RHO", "MIN_EFFECT", "MIN_LEVEL_Z", "SmoothnessTest", "projected_energy_verdict",
           "projected_energy_why", "random_loop_null", "smoothness_verdict", "smoothness_vs_null", "smoothness_why",
           "threshold_slopes_verdict", "threshold_slopes_why"]

#: Spearman ρ(α, E/tr Σ) across layers at or below this: "larger α, smoother" in rank order.
MAX_RHO = -0.5
#: one-sided permutation p-value of the residual slope below this: α predicts energy beyond the null.
MAX_P = 0.05
#: mean residual ≤ −this × (null s.d./√n): the layers are smoother than power-law loops of their α.
MIN_LEVEL_Z = 3.0
#: smallest effect that counts, in ln(E/tr Σ): a residual slope ≤ −this per unit α, or a mean
#: residual ≤ −this (about 18% less energy than random loops of the same α); a significant but
#: tiny departure (the null curve's own misfit) does not.
MIN_EFFECT = 0.2


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    from scipy.stats import spearmanr

    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return 0.0
    return float(spearmanr(a, b).statistic)


@dataclass(frozen=True)
class LoopNull:
    """Random power-law loops without a network (:func:`random_loop_null`).

    alpha_true, alpha, energy_norm: (N,) the loops' generating α, measured α and E/tr Σ.
    intercept, slope: the straight line ln(E/tr Σ) ≈ intercept + slope·α (for the report).
    coef: the cubic in α (``np.polyval`` order) that :meth:`predict` uses; resid_sd: its residual
    s.d. rho: Spearman ρ(α, E/tr Σ) of the loops (the relation any power-law loop shows).
    """

    alpha_true: np.ndarray
    alpha: np.ndarray
    energy_norm: np.ndarray
    intercept: float
    slope: float
    resid_sd: float
    rho: float
    window: tuple[int, int]
    n_points: int
    coef: tuple[float, ...] = ()
    alpha_range: tuple[float, float] = (0.3, 3.5)

    def predict(self, alpha: Any) -> np.ndarray:
        """ln(E/tr Σ) that a random power-law loop of measured α has (the null curve; α is
        clipped to the range the loops covered)."""
        a = np.clip(np.asarray(alpha, dtype=float), float(np.nanmin(self.alpha)), float(np.nanmax(self.alpha)))
        return np.polyval(self.coef, a) if self.coef else self.intercept + self.slope * a


def _measure_alpha(traj: np.ndarray, window: tuple[int, int]) -> float:
    """The plain weighted log-log fit over ``window``: what ``layer_alphas(..., estimator="plain")``
    gives for a trajectory (without its flat-spectrum check, which no power-law loop needs)."""
    from polycode_lite.science.eigen import eigenspectrum
    from polycode_lite.science.powerlaw import fit_power_law

    return float(fit_power_law(eigenspectrum(traj), ranks=tuple(window), correct_bias=False, n_boot=0).alpha)


def random_loop_null(n_points: int, window: tuple[int, int], n_loops: int = 60,
                     alpha_range: tuple[float, float] = (0.3, 3.5), n_dims: int = 512,
                     seed: int = 0) -> LoopNull:
    """Fit the α–energy relation of ``n_loops`` random power-law loops (no network).

    Args:
        n_points: T, points per loop (use the dot loop's T).
        window: (lo, hi) rank window of the α fit (use the layers' window).
        n_loops: number of random loops (>= 10).
        alpha_range: generating α drawn uniformly from this range.
        n_dims: width of each circle code (even).
        seed: draws the α values and the phases.
    Returns: :class:`LoopNull`. Raises ValueError for n_loops < 10 or a bad alpha_range.
    """
    from polycode_lite.data.stimuli import power_law_circle_code
    from polycode_lite.science.projections import normalised_path_energy

    if int(n_loops) < 10:
        raise ValueError(f"n_loops must be >= 10 to fit the null line, got {n_loops!r}.")
    lo, hi = (float(v) for v in alpha_range)
    if not 0 < lo < hi:
        raise ValueError(f"alpha_range must be (low, high) with 0 < low < high, got {alpha_range!r}.")
    rng = np.random.default_rng(seed)
    a_true = rng.uniform(lo, hi, int(n_loops))
    seeds = rng.integers(0, 2 ** 31 - 1, int(n_loops))
    alpha, energy = np.empty(int(n_loops)), np.empty(int(n_loops))
    for j, (a, s) in enumerate(zip(a_true, seeds)):
        loop = power_law_circle_code(float(a), int(n_points), int(n_dims), seed=int(s))
        alpha[j], energy[j] = _measure_alpha(loop, window), normalised_path_energy(loop)
    ok = np.isfinite(alpha)
    if ok.sum() < 10:
        raise ValueError(f"only {int(ok.sum())} null loops got a finite α in window {window}; widen the window.")
    coef = np.polyfit(alpha[ok], np.log(energy[ok]), 3)
    resid = np.log(energy[ok]) - np.polyval(coef, alpha[ok])
    b, a = np.polyfit(alpha[ok], np.log(energy[ok]), 1)
    return LoopNull(alpha_true=a_true, alpha=alpha, energy_norm=energy, intercept=float(a), slope=float(b),
                    coef=tuple(float(c) for c in coef), resid_sd=float(resid.std(ddof=4)),
                    rho=_spearman(alpha[ok], energy[ok]), window=(int(window[0]), int(window[1])),
                    n_points=int(n_points), alpha_range=(lo, hi))


def smoothness_verdict(rho: float, p_slope: float, level_z: float, resid_slope: float = -np.inf,
                       mean_resid: float = -np.inf, max_rho: float = MAX_RHO, max_p: float = MAX_P,
                       min_level_z: float = MIN_LEVEL_Z, min_effect: float = MIN_EFFECT) -> str:
    """Verdict of "layers with larger α have smoother codes" as a claim about the network.

    * "holds": ρ(α, E/tr Σ) ≤ ``max_rho`` (−0.5) and the residuals from the random-loop curve fall
      with α, by at least ``min_effect`` (0.2) in ln E per unit α and significantly (one-sided
      permutation p < ``max_p``, 0.05): α predicts smoothness beyond the null;
    * "partly": ρ ≤ ``max_rho`` and the layers are smoother than random loops of their α (mean
      residual ≤ −``min_effect`` and z ≤ −``min_level_z``), but α adds nothing beyond the null's slope;
    * "does not hold at this scale": otherwise, including an α–energy relation that is just what
      random power-law loops without a network give.
    """
    if rho <= max_rho and p_slope < max_p and resid_slope <= -min_effect:
        return "holds"
    if rho <= max_rho and level_z <= -min_level_z and mean_resid <= -min_effect:
        return "partly"
    return "does not hold at this scale"


def smoothness_why(rho: float, p_slope: float, level_z: float, resid_slope: float, mean_resid: float,
                   null_rho: float | None = None, max_rho: float = MAX_RHO, max_p: float = MAX_P,
                   min_level_z: float = MIN_LEVEL_Z, min_effect: float = MIN_EFFECT) -> str:
    """Why :func:`smoothness_verdict` came out as it did, in these numbers (one or two sentences),
    for every outcome; ``null_rho``: the no-network loops' own ρ, quoted when given."""
    null = f" (random loops without a network give ρ = {null_rho:+.2f})" if null_rho is not None else ""
    slope_ok = p_slope < max_p and resid_slope <= -min_effect
    level_ok = level_z <= -min_level_z and mean_resid <= -min_effect
    if rho > max_rho:
        first = (f"Energy does not fall with α across the layers: ρ(α, E/trΣ) = {rho:+.2f}, above the "
                 f"{max_rho:+.1f} the rule needs{null}.")
    else:
        first = f"Energy falls with α across the layers (ρ = {rho:+.2f}){null}."
    if slope_ok:
        second = (f" Beyond the random-loop curve the layers' offsets fall by {resid_slope:+.2f} in ln E per unit α "
                  f"(p = {p_slope:.2f}): α predicts smoothness beyond what any power-law loop gives.")
    else:
        second = (f" Beyond the random-loop curve the offsets change by {resid_slope:+.2f} in ln E per unit α "
                  f"(p = {p_slope:.2f}; needs ≤ −{min_effect:g} with p < {max_p:g}), so α adds nothing beyond "
                  f"what random power-law loops of the same α give")
        second += (f"; the layers do sit {mean_resid:+.2f} in ln E from that curve (z = {level_z:+.1f}), "
                   f"{'smoother' if mean_resid < 0 else 'rougher'} than random loops of their α, whatever their α."
                   if level_ok or abs(level_z) >= min_level_z else
                   f"; their mean offset {mean_resid:+.2f} (z = {level_z:+.1f}) is within the null's scatter.")
    return first + second


@dataclass(frozen=True)
class SmoothnessTest:
    """Layers against the no-network null (:func:`smoothness_vs_null`).

    alpha, energy_norm, residual: (L,) per layer (residual = ln E/tr Σ − null line). group: (L,)
    model label of each layer. rho: Spearman ρ(α, E) across layers. resid_slope, p_slope: the
    slope of the residuals on α and its one-sided permutation p-value. level_z: mean residual /
    (null s.d./√L). null: the :class:`LoopNull`.
    """

    alpha: np.ndarray
    energy_norm: np.ndarray
    residual: np.ndarray
    group: np.ndarray
    rho: float
    resid_slope: float
    p_slope: float
    level_z: float
    null: LoopNull

    @property
    def verdict(self) -> str:
        return smoothness_verdict(self.rho, self.p_slope, self.level_z, self.resid_slope,
                                  float(np.mean(self.residual)))

    @property
    def why(self) -> str:
        """Why the verdict came out so, in this test's numbers (:func:`smoothness_why`)."""
        return smoothness_why(self.rho, self.p_slope, self.level_z, self.resid_slope,
                              float(np.mean(self.residual)), null_rho=self.null.rho)

    def describe(self) -> str:
        """One line of numbers: ρ, residual slope with p, level z."""
        return (f"ρ(α, E/trΣ) = {self.rho:+.2f}; residual from the random-loop curve: slope "
                f"{self.resid_slope:+.2f} per unit α (permutation p = {self.p_slope:.2f}), mean "
                f"{float(np.mean(self.residual)):+.2f} (z = {self.level_z:+.1f})")

    def summary(self, group: str) -> "SmoothnessTest":
        """The same test on the layers of one ``group`` (e.g. the random-init control)."""
        keep = self.group == group
        if keep.sum() < 3:
            raise ValueError(f"group {group!r} has {int(keep.sum())} layers; need >= 3 (groups: "
                             f"{sorted(set(self.group.tolist()))}).")
        return smoothness_vs_null(self.alpha[keep], self.energy_norm[keep], self.null, group=self.group[keep])

    def claims(self, control: "SmoothnessTest | None" = None) -> list[dict[str, Any]]:
        """The claim dict (``record_claim(**claim)``); ``control``: the same test on the random-init
        network, shown in the control string beside the no-network null."""
        null = self.null
        ctrl = (f"no network: {null.alpha.size} random power-law loops (T = {null.n_points}, same α window "
                f"{null.window[0]}..{null.window[1]}) give ρ(α, E/trΣ) = {null.rho:+.2f}, ln E ≈ "
                f"{null.intercept:.2f} {null.slope:+.2f}·α (cubic null curve, residual s.d. {null.resid_sd:.2f})")
        if control is not None:
            ctrl += f"; random-init network: {control.describe()}, verdict '{control.verdict}'"
        return [dict(
            claim="Layers with larger α have smoother codes (lower normalised path energy), beyond what "
                  "random power-law loops of the same α give",
            expected="[I] docs/paper_guide.md §3 E3: a negative α–energy relation across layers; as a claim about the "
                     "network it must beat the no-network null (random power-law loops of the same α)",
            measured=f"{self.alpha.size} layers ({', '.join(sorted(set(self.group.tolist())))}): {self.describe()}",
            control=ctrl, verdict=self.verdict, why=self.why,
            values=dict(rho=self.rho, resid_slope=self.resid_slope, p_slope=self.p_slope, level_z=self.level_z,
                        null_rho=null.rho, null_slope=null.slope, null_resid_sd=null.resid_sd))]


def smoothness_vs_null(alpha: Any, energy_norm: Any, null: LoopNull, group: Sequence[str] | None = None,
                       n_permutations: int = 2000, seed: int = 0) -> SmoothnessTest:
    """Test layers' (α, E/tr Σ) against the random-loop null line.

    Args:
        alpha, energy_norm: (L,) per layer, L >= 3 finite values (E > 0); NaN-α layers are dropped.
        null: from :func:`random_loop_null` with the layers' T and α window.
        group: (L,) model label per layer (default all "network").
        n_permutations: α shuffles across layers for the slope's p-value.
        seed: seed of the shuffles.
    Raises: ValueError for fewer than 3 usable layers or mismatched lengths.
    """
    a = np.asarray(alpha, dtype=float)
    e = np.asarray(energy_norm, dtype=float)
    g = np.asarray(["network"] * a.size if group is None else list(group), dtype=object)
    if not (a.shape == e.shape == g.shape) or a.ndim != 1:
        raise ValueError(f"alpha, energy_norm and group must be equally long 1-D; got {a.shape}, {e.shape}, {g.shape}.")
    ok = np.isfinite(a) & np.isfinite(e) & (e > 0)
    a, e, g = a[ok], e[ok], g[ok]
    if a.size < 3:
        raise ValueError(f"need >= 3 layers with finite α and E > 0, got {a.size}.")
    r = np.log(e) - null.predict(a)
    slope = float(np.polyfit(a, r, 1)[0]) if np.ptp(a) > 0 else 0.0
    rng = np.random.default_rng(seed)
    perm = np.array([np.polyfit(rng.permutation(a), r, 1)[0] for _ in range(int(n_permutations))]) \
        if np.ptp(a) > 0 else np.zeros(1)
    p = float((1 + np.sum(perm <= slope)) / (1 + perm.size))
    z = float(np.mean(r) / (null.resid_sd / np.sqrt(a.size))) if null.resid_sd > 0 else 0.0
    return SmoothnessTest(alpha=a, energy_norm=e, residual=r, group=g, rho=_spearman(a, e), resid_slope=slope,
                          p_slope=p, level_z=z, null=null)


def _threshold_sides(alpha: Any, slope: Any, d: int, below: tuple[float, float], above_from: float,
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(α, slope, theory, in-below mask, in-above mask) after the checks of :func:`threshold_slopes_verdict`."""
    from polycode_lite.science.projections import theoretical_energy_slope

    a, sl = np.asarray(alpha, dtype=float), np.asarray(slope, dtype=float)
    if a.shape != sl.shape or a.ndim != 1:
        raise ValueError(f"alpha and slope must be equally long 1-D arrays, got {a.shape} and {sl.shape}.")
    lo = (a >= below[0]) & (a <= below[1])
    hi = a >= above_from
    if not lo.any() or not hi.any():
        raise ValueError(f"need slopes with α in {below} and with α >= {above_from}; got α = {a.tolist()}.")
    theory = np.array([theoretical_energy_slope(float(x), int(d)) for x in a])
    return a, sl, theory, lo, hi


def threshold_slopes_verdict(alpha: Any, slope: Any, d: int = 1, below: tuple[float, float] = (1.5, 2.5),
                             above_from: float = 3.5, tol_below: float = 0.1, tol_above: float = 0.06) -> str:
    """Verdict of "a code of a d-dimensional input is smooth iff α > 1 + 2/d" from measured
    energy-scaling slopes d log E / d log T (``projections.energy_scaling_slope``).

    * "holds": every slope with α in ``below`` is within ``tol_below`` of the fractal theory
      1 − d(α − 1), and every slope with α ≥ ``above_from`` within ``tol_above`` of −1 (smooth);
    * "partly": one of the two sides agrees;
    * "does not hold at this scale": neither (e.g. unrelated points, slope +1 at every α).

    Args: alpha, slope (N,) paired; d >= 1. Raises ValueError when a side has no α or lengths differ."""
    a, sl, theory, lo, hi = _threshold_sides(alpha, slope, d, below, above_from)
    ok_lo = bool(np.max(np.abs(sl[lo] - theory[lo])) <= tol_below)
    ok_hi = bool(np.max(np.abs(sl[hi] + 1.0)) <= tol_above)
    return "holds" if ok_lo and ok_hi else "partly" if ok_lo or ok_hi else "does not hold at this scale"


def threshold_slopes_why(alpha: Any, slope: Any, d: int = 1, below: tuple[float, float] = (1.5, 2.5),
                         above_from: float = 3.5, tol_below: float = 0.1, tol_above: float = 0.06) -> str:
    """Why :func:`threshold_slopes_verdict` (same arguments) came out as it did: the worst
    deviation on each side of the threshold against its tolerance, at which α; for every outcome."""
    a, sl, theory, lo, hi = _threshold_sides(alpha, slope, d, below, above_from)
    dev_lo, dev_hi = np.abs(sl - theory), np.abs(sl + 1.0)
    i_lo = np.flatnonzero(lo)[int(np.argmax(dev_lo[lo]))]
    i_hi = np.flatnonzero(hi)[int(np.argmax(dev_hi[hi]))]
    parts = []
    theory_text = "2 − α" if int(d) == 1 else f"1 − {int(d)}(α − 1)"
    for side, i, dev, tol, ref in (("below the threshold", i_lo, dev_lo, tol_below, theory_text),
                                   ("above it", i_hi, dev_hi, tol_above, "−1")):
        ok = dev[i] <= tol
        parts.append(f"{side} the worst slope (α = {a[i]:g}: {sl[i]:+.2f}) is {dev[i]:.2f} from {ref}, "
                     f"{'within' if ok else 'beyond'} the tolerance {tol:g}")
    return f"For d = {d} (threshold α = {1 + 2 / d:g}): " + "; ".join(parts) + "."


def projected_energy_verdict(mean: float, expected: float, predicted_sd: float, n_projections: int,
                             max_z: float = 4.0) -> tuple[str, float]:
    """Verdict of "the expected projected energy is (k/m)·E_full", and its z-score.

    z = (mean − expected) / (predicted_sd/√n) over ``n_projections`` projections
    (``projections.ProjectedEnergy`` fields). "holds": |z| < ``max_z`` (4); "partly":
    |z| < 10·``max_z``; "does not hold at this scale": beyond (e.g. the supplement's ½·tr Σ,
    which leaves out k/m). Raises ValueError for predicted_sd <= 0 or n_projections < 2."""
    if not predicted_sd > 0 or int(n_projections) < 2:
        raise ValueError(f"predicted_sd must be > 0 and n_projections >= 2, got {predicted_sd!r}, {n_projections!r}.")
    z = float((mean - expected) / (predicted_sd / np.sqrt(int(n_projections))))
    verdict = "holds" if abs(z) < max_z else "partly" if abs(z) < 10 * max_z else "does not hold at this scale"
    return verdict, z


def projected_energy_why(mean: float, expected: float, predicted_sd: float, n_projections: int,
                         max_z: float = 4.0) -> str:
    """Why :func:`projected_energy_verdict` (same arguments) came out as it did, for every outcome."""
    verdict, z = projected_energy_verdict(mean, expected, predicted_sd, n_projections, max_z)
    how = ("within" if verdict == "holds" else "beyond")
    return (f"The mean over {int(n_projections)} projections is {mean / expected:.4f}× (k/m)·E_full, "
            f"z = {z:+.2f} standard errors of the predicted projection noise: {how} the ±{max_z:g} the rule allows.")
