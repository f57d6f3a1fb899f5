"""The shared helpers: array conversion, thread limits, file digests, device choice."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
import torch

from polycode_lite._common import as_2d_float64, choose_device, limit_threads, sha256_file, to_numpy


def test_to_numpy_handles_tensors_with_grad_and_keeps_dtype_when_asked() -> None:
    t = torch.ones(3, requires_grad=True) * 2
    a = to_numpy(t)
    assert a.dtype == np.float64 and a.tolist() == [2.0, 2.0, 2.0]
    assert to_numpy(torch.tensor([1, 2]), dtype=None).dtype == np.int64
    assert to_numpy([1, 2]).dtype == np.float64


def test_as_2d_float64_names_the_argument_and_the_bad_values() -> None:
    with pytest.raises(ValueError, match="acts must be a 2-D"):
        as_2d_float64(np.zeros(3), "acts")
    with pytest.raises(ValueError, match=r"acts contains 1 NaN/inf value\(s\) at \(row 1, col 0\)"):
        as_2d_float64([[0.0], [np.nan]], "acts")


def test_limit_threads_restores_and_rejects_zero() -> None:
    before = torch.get_num_threads()
    with limit_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    with pytest.raises(ValueError, match=r"n \(threads\) must be >= 1"):
        with limit_threads(0):
            pass
    with limit_threads(None):
        assert torch.get_num_threads() == before


def test_sha256_file_matches_hashlib(tmp_path) -> None:
    f = tmp_path / "x.bin"
    f.write_bytes(b"polycode" * 1000)
    assert sha256_file(f) == hashlib.sha256(b"polycode" * 1000).hexdigest()


def test_choose_device() -> None:
    assert choose_device("cpu").type == "cpu"
    assert choose_device(None).type == ("cuda" if torch.cuda.is_available() else "cpu")


def test_set_threads_stays_set() -> None:
    import gc

    from threadpoolctl import threadpool_info

    from polycode_lite._common import set_threads

    before = torch.get_num_threads()
    blas_before = [i["num_threads"] for i in threadpool_info()]
    try:
        set_threads(1)
        gc.collect()  # a context manager entered and dropped would restore the old values here
        assert torch.get_num_threads() == 1
        assert all(i["num_threads"] == 1 for i in threadpool_info())
    finally:
        torch.set_num_threads(before)
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=max(blas_before, default=1))
