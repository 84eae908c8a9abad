"""The model: design and builder, sampling, the posterior, forecasts, diagnostics and scenarios."""
