"""Inputs with known structure: procedural shapes, CIFAR-10 loading, moving-dot stimuli, text corpora."""
