"""Evaluation: baselines, proper scores, windows and the rolling-origin backtest."""
