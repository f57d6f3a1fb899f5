"""What :mod:`.sae_language` measures besides explanation scores: α of a layer's neurons and of
an SAE's latent code (the one α pipeline), and the reconstruction–sparsity trade-off against PCA."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from polycode_lite import _checks as ck

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["code_alphas", "group_accumulators", "pca_fvu", "tradeoff_table"]


def group_accumulators(acts: Any, groups: Any, encode: Any = None, chunk: int = 4096) -> list:
    """One ``CovarianceAccumulator`` per group id of ``groups`` (one per row of ``acts`` (N, ..., d)),
    of the rows themselves or of ``encode(rows)`` (e.g. ``sae.encode``), streamed in chunks."""
    from polycode_lite.science.covariance import CovarianceAccumulator

    a = np.asarray(acts)
    g = np.asarray(groups)
    if g.shape != a.shape[:1]:
        raise ValueError(f"groups must have one id per row of acts ({a.shape[0]}), got shape {g.shape}.")
    accs = []
    for gid in np.unique(g):
        x = a[g == gid].reshape(-1, a.shape[-1])
        acc = None
        for start in range(0, x.shape[0], chunk):
            part = x[start:start + chunk]
            z = part.astype(np.float64) if encode is None else np.asarray(encode(part), np.float64)
            acc = CovarianceAccumulator(z.shape[1]) if acc is None else acc
            acc.update(z)
        accs.append(acc)
    return accs


def code_alphas(hook: str, codes: dict[str, list], *, n_boot: int = 50, correct_bias: bool = True,
                seed: int = 0) -> list[dict[str, Any]]:
    """α of each code ({name: accumulators, one per document group}) of one layer in **one**
    window, the default window of the narrowest code (:func:`~polycode_lite.experiments.alpha.fit_window`),
    through :func:`~polycode_lite.experiments.alpha.estimate_alpha` (bootstrap over the groups when
    ``n_boot`` >= 10 and there are >= 2 groups, else no CI). A fit that fails gives NaN with its note.
    Rows: hook, code, width, n_tokens, window_lo, window_hi, alpha, ci_low, ci_high, flags, note."""
    from polycode_lite.experiments.alpha import estimate_alpha, fit_window

    ck.integer("n_boot", n_boot, minimum=0); ck.boolean("correct_bias", correct_bias); ck.seed("seed", seed)
    if not codes:
        raise ValueError("codes must name at least one code.")
    n = int(sum(a.n for a in next(iter(codes.values()))))
    nan = dict(alpha=np.nan, ci_low=np.nan, ci_high=np.nan, flags="")
    try:
        window = fit_window(min(accs[0].dim for accs in codes.values()), n)
    except ValueError as exc:
        return [dict(hook=hook, code=c, width=a[0].dim, n_tokens=n, window_lo=np.nan, window_hi=np.nan,
                     **nan, note=str(exc)) for c, a in codes.items()]
    rows = []
    for code, accs in codes.items():
        row = dict(hook=hook, code=code, width=accs[0].dim, n_tokens=n, window_lo=window[0], window_hi=window[1])
        boot = n_boot >= 10 and len(accs) > 1
        try:
            fit = estimate_alpha(accs, window=window, correct_bias=correct_bias, ci="bootstrap" if boot else "none",
                                 n_boot=n_boot if boot else 10, seed=seed)
            row |= dict(alpha=float(fit.alpha), ci_low=float(fit.ci[0]), ci_high=float(fit.ci[1]),
                        flags=",".join(fit.flags), note=fit.note)
        except ValueError as exc:
            row |= dict(**nan, note=str(exc))
        rows.append(row)
    return rows


def pca_fvu(train: Any, test: Any, ranks: Sequence[int]) -> dict[int, float]:
    """Fraction of variance of ``test`` (n, d) unexplained by the top-r principal subspace of
    ``train`` (centred on train's mean), for each r of ``ranks``."""
    tr, te = ck.array("train", train, ndim=2, min_len=2), ck.array("test", test, ndim=2, min_len=2)
    if tr.shape[1] != te.shape[1]:
        raise ValueError(f"train and test differ in width: {tr.shape[1]} vs {te.shape[1]}.")
    rs = ck.sequence_of("ranks", ranks, lambda nm, v: ck.integer(nm, v, minimum=1, maximum=tr.shape[1]))
    mean = tr.mean(0)
    _, vecs = np.linalg.eigh(np.cov(tr - mean, rowvar=False))
    vecs = vecs[:, ::-1]
    xc = te - mean
    total = float(np.sum((te - te.mean(0)) ** 2))
    return {r: float(np.sum((xc - (xc @ vecs[:, :r]) @ vecs[:, :r].T) ** 2)) / total for r in rs}


def tradeoff_table(hook: str, train: np.ndarray, test: np.ndarray, n_latents: int, sweep: Sequence[float],
                   method: str = "topk", *, steps: int | None = None, batch_size: int = 256, seed: int = 0,
                   reuse: dict | None = None, num_threads: int | None = 1) -> pd.DataFrame:
    """One SAE of ``n_latents`` per sparsity of ``sweep`` (k for ``method="topk"``, the L1
    coefficient for "l1") trained on ``train`` (n, d); on ``test``: fvu, l0, dead_fraction, and
    fvu_pca_same_l0 (:func:`pca_fvu` at rank round(L0)); ``seconds`` of training. ``reuse``:
    {sparsity: (sae, seconds)} already trained (the scored SAE); ``num_threads``: torch threads
    while training (``train_sae``). Columns hook, method, sparsity,
    n_latents, fvu, l0, dead_fraction, seconds, fvu_pca_same_l0."""
    import pandas as pd

    from polycode_lite.models.sae import train_sae

    ck.choice("method", method, ("topk", "l1"))
    rows = []
    for value in sweep:
        hit = [v for v in (reuse or {}) if float(v) == float(value)]
        if hit:
            sae, secs = reuse[hit[0]]
        else:
            t0 = time.perf_counter()
            kw = {"k": int(value)} if method == "topk" else {"l1": float(value)}
            sae = train_sae(train, n_latents, steps=steps, batch_size=batch_size, seed=seed,
                            num_threads=num_threads, **kw)
            secs = time.perf_counter() - t0
        rows.append(dict(hook=hook, method=method, sparsity=value, n_latents=n_latents,
                         fvu=float(sae.reconstruction_error(test)), l0=float(sae.l0(test)),
                         dead_fraction=float(sae.dead_fraction(test)), seconds=secs))
    table = pd.DataFrame(rows)
    rank = [max(1, min(round(v), train.shape[1])) for v in table.l0]
    pca = pca_fvu(train, test, sorted(set(rank)))
    table["fvu_pca_same_l0"] = [pca[r] for r in rank]
    return table
