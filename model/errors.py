"""User-facing errors: a stage stops with a message, never a bare traceback."""


class StageError(RuntimeError):
    """A stage cannot go on; the message names the file, row and field where it can."""


class GateFailed(StageError):
    """The diagnostics gate failed and params say a failure stops the pipeline."""
