"""One module per DVC stage, each with ``run(params, root)``."""
