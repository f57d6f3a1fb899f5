"""Pure math on arrays and tensors: covariances, spectra, alpha, capacity, projections, MINE. No files, models or plots."""
