"""The ``clashcast`` console script: one thin command per DVC stage, plus ``validate``.

Each stage command validates the whole params file, then calls ``model.stages.<stage>.run``.
User errors (bad input, bad params, a failed gate) print a message and exit 2.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
import time
from pathlib import Path

from model.config import ParamsError, read_params
from model.errors import StageError

STAGES = ("ingest", "panel", "fit", "forecast", "backtest", "report")


def _run_stage(stage: str, args: argparse.Namespace) -> int:
    params = read_params(args.params)
    module = importlib.import_module(f"model.stages.{stage}")
    t0 = time.perf_counter()
    module.run(params, Path(args.root))
    logging.getLogger("clashcast").info("%s done in %.1f s", stage, time.perf_counter() - t0)
    return 0


def _validate(args: argparse.Namespace) -> int:
    from model.stages.ingest import validate_file

    return validate_file(Path(args.file), args.format, Path(args.params), limit=args.limit)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="clashcast", description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="params.yaml", help="params file (%(default)s)")
    parser.add_argument("--root", default=".", help="project root (default: %(default)s)")
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="command", required=True)
    for stage in STAGES:
        sub.add_parser(stage, help=f"run the {stage} stage")
    val = sub.add_parser("validate", help="check one raw file without running anything else")
    val.add_argument("file")
    formats = ["canonical", "ucdp_ged", "acled", "points"]
    val.add_argument("--format", required=True, choices=formats)
    val.add_argument("--limit", type=int, default=20, help="problems to print (then a count)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
        datefmt="%H:%M:%S",
    )
    # Our own progress, and PyMC's sampler lines; other libraries only when they warn.
    for name in ("clashcast", "pymc"):
        logging.getLogger(name).setLevel(logging.DEBUG if args.verbose else logging.INFO)
    try:
        if args.command == "validate":
            return _validate(args)
        return _run_stage(args.command, args)
    except (ParamsError, StageError) as e:
        print(f"clashcast {args.command}: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
