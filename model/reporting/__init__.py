"""Reporting: the run loader, the report's context, plots, evidence and headline."""
