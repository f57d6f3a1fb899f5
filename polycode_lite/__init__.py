"""polycode_lite: a hands-on toolkit for Marshall & Kirchner (2024),
"Understanding polysemanticity in neural networks through coding theory".

Modules (one idea each):
  spectrum     streaming covariance, eigenspectra, power-law exponent alpha
  activations  forward-hook recorder shared by every model notebook
  datasets     offline procedural image data with known generative factors
Heavy dependencies (torch, transformers) are imported lazily inside the modules that need them.
"""

__version__ = "0.1.0"
