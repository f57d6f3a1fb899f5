"""One helper per figure kind, used by the notebooks and by results' ``.plot()``."""
