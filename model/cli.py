"""The ``clashcast`` console script: one thin command per DVC stage, plus ``validate`` and
``actors`` (checks of one raw file).

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

from model import timing
from model.config import ParamsError, read_params
from model.errors import StageError

STAGES = ("ingest", "panel", "backtest", "fit", "forecast", "evidence", "report")
FORMATS = ["canonical", "ucdp_ged", "acled", "points"]
#: Loggers shown at INFO: the package's own (every module logs as ``model.<module>``) and PyMC's
#: sampler lines; other libraries only when they warn.
SHOWN_LOGGERS = ("model", "pymc")

_log = logging.getLogger("model.cli")  # not __name__: under `python -m model.cli` it is __main__


def _run_stage(stage: str, args: argparse.Namespace) -> int:
    params = read_params(args.params)
    module = importlib.import_module(f"model.stages.{stage}")
    t0 = time.perf_counter()
    module.run(params, Path(args.root))
    seconds = time.perf_counter() - t0
    timing.record(args.root, stage, {"seconds": round(seconds, 3)})
    _log.info("%s done in %.1f s", stage, seconds)
    return 0


def _validate(args: argparse.Namespace) -> int:
    from model.data.ingest import validate_file

    return validate_file(Path(args.file), args.format, Path(args.params), limit=args.limit)


def _actors(args: argparse.Namespace) -> int:
    from model.data.sources.actors import actors_report

    ip = read_params(args.params).ingest
    print("\n".join(actors_report(Path(args.file), args.format, ip, unmatched=args.unmatched)))
    return 0


def _file_command(sub: argparse._SubParsersAction, name: str, help: str) -> argparse.ArgumentParser:
    """A command on one raw file; ``--params`` may also follow the command name."""
    cmd = sub.add_parser(name, help=help)
    cmd.add_argument("file")
    cmd.add_argument("--format", required=True, choices=FORMATS)
    cmd.add_argument("--params", default=argparse.SUPPRESS, help="params file (params.yaml)")
    return cmd


COMMANDS = {"validate": _validate, "actors": _actors}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="clashcast", description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="params.yaml", help="params file (%(default)s)")
    parser.add_argument("--root", default=".", help="project root (default: %(default)s)")
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="command", required=True)
    for stage in STAGES:
        sub.add_parser(stage, help=f"run the {stage} stage")
    val = _file_command(sub, "validate", "check one raw file without running anything else")
    val.add_argument("--limit", type=int, default=20, help="problems to print (then a count)")
    act = _file_command(
        sub, "actors", "list a raw file's actors, their event counts and sides (and why)"
    )
    act.add_argument(
        "--unmatched", action="store_true", help="only actors that fall to the unknown side"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
        datefmt="%H:%M:%S",
    )
    for name in SHOWN_LOGGERS:
        logging.getLogger(name).setLevel(logging.DEBUG if args.verbose else logging.INFO)
    try:
        if args.command in COMMANDS:
            return COMMANDS[args.command](args)
        return _run_stage(args.command, args)
    except (ParamsError, StageError) as e:
        print(f"clashcast {args.command}: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
