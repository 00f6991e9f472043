"""Errors raised by the scoring code.

ScoringError (ValueError)
├── InvalidHistoryError   order data that breaks the input contract
├── InsufficientDataError too little data to fit a model
└── FitError              the optimizer did not reach a usable maximum
"""


class ScoringError(ValueError):
    """Base class of every error raised by `core.domain.scoring`."""


class InvalidHistoryError(ScoringError):
    """Order data that breaks the input contract (NaN amounts, ragged arrays, ...)."""


class InsufficientDataError(ScoringError):
    """Too few clients (or repeat buyers) to fit the requested model."""


class FitError(ScoringError):
    """The likelihood maximisation did not converge to a finite optimum."""
