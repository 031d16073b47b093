"""evosearch: multi-objective evolutionary search for compressed ALBERT/BERT encoders."""

__version__ = "0.1.0"
