"""clashcast: Bayesian early warning of armed clashes, region by region.

The package follows the pipeline (``dvc.yaml``); each sub-package serves one phase, and
``model.stages`` holds one thin module per DVC stage (``clashcast <stage>``).

Public, for notebooks and for users who script the pipeline:

- ``model.config.read_params`` / ``load_params``: ``params.yaml``, validated.
- ``model.paths``: where every artefact lives; ``model.readers``: one typed reader each
  (``read_panel``, ``read_table``, ``read_json``, ``read_forecast_nc``);
  ``model.inference.posterior.load_idata``: the posterior, with its provenance checked.
- ``model.data``: source adapters (``sources``), regions, ``ingest``, the ``panel`` and its
  ``features`` (names in ``feature_names``, facts in ``panel_facts.PanelFacts``).
- ``model.inference``: ``clash_model.make_design`` / ``build_clash_model`` (pure),
  ``equation`` (the linear predictor once, and the model's variable names), ``sampling.fit``,
  ``forecast.forecast_draws`` / ``within_draws``, ``diagnostics``, ``scenarios``.
- ``model.backtesting``: ``baselines``, ``scoring`` (proper scores), ``catalogue`` (every score
  and forecaster), ``evaluation`` (windows and skill), ``backtest`` (rolling-origin folds).
- ``model.results`` and ``model.diagnostics_results``: ``backtest.json`` and
  ``diagnostics.json`` as typed results (``BacktestMetrics``, ``DiagnosticsMetrics``).
- ``model.reporting``: ``artefacts.load_run`` (a run's artefacts, loaded), ``report``,
  ``plots``, ``evidence``, ``headline``.

Everything else (``io``, ``provenance``, ``timing``, ``numerics``, ``errors``,
``side_grammar``) is infrastructure the stages share. Nothing is imported here, so that a stage
loads only the modules ``dvc.yaml`` lists for it. Simulators of clash panels for tests and
benchmarks live outside the package, in ``clashcast_testing``.
"""

__version__ = "0.1.0"
