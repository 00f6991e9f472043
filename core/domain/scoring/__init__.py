"""Engagement scoring: RFM plus a fitted BG/NBD + Gamma-Gamma model (DESIGN §4).

Everything here is pure (numpy/scipy, no I/O). This package module imports
nothing, so workflow code can import the pydantic contracts in
`core.domain.scoring.params` and `core.domain.scoring.schema` without pulling numpy or scipy
into the sandbox. The modules:

- `summary`: order history -> per-client frequency / recency / age / spend.
- `rfm`: quintile scores with a stable tie rule and the named segments.
- `bgnbd`, `gamma_gamma`: likelihoods, fits and per-client predictions.
- `fit`: summary -> a versioned `ModelParameters` (or the defaults).
- `score`: vectorized population scoring and the single-client API.
- `simulate`: histories drawn from the model, for tests, bench and demo.
"""
