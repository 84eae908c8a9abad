"""clashcast: Bayesian early warning of armed clashes, region by region."""

__version__ = "0.1.0"
