"""Experiments (Config → run → Result) and the one α-per-layer pipeline they share (:mod:`.alpha`)."""
