"""The `segrec` command line: build inputs, publish and document a dbt build of segrec.

Each subcommand has its adapter module in this package (``segrec.cli.<command>``), which
exposes ``add_arguments(parser)`` and ``run(args) -> int`` and calls the library; adapters
are imported only when used, so `segrec --help` stays fast and one broken subcommand cannot
break the others. Only this package knows about argparse."""

from __future__ import annotations

import argparse
import importlib
import sys

from segrec.errors import SegrecError

# subcommand -> (module, one-line help)
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "generate": ("segrec.cli.generate", "write deterministic synthetic raw data with known truth"),
    "ingest": ("segrec.cli.ingest", "turn a public dataset into the raw contract (see `segrec ingest -h`)"),
    "export": ("segrec.cli.export", "write the output tables to exports/ as Parquet, a Tableau .hyper extract "
               "and a manifest"),
    "report": ("segrec.cli.report", "write the static HTML segment report"),
    "runlog": ("segrec.cli.runlog", "append a structured JSON run log of the last dbt build"),
    "summary": ("segrec.cli.summary", "print row counts of a built warehouse (raw, clean, quarantined, ...)"),
    "run": ("segrec.cli.run", "ingest one public dataset and build, export and report it into its own folder"),
    "results": ("segrec.cli.results", "regenerate docs/results.md from the per-dataset runs"),
    "serve": ("segrec.cli.serve", "serve recommendations and segments of the published exports over HTTP "
              "(needs the serve extra)"),
    "track": ("segrec.cli.track", "log the build's model fits (mart model_fits) to MLflow, each once "
              "(needs the tracking extra and SEGREC_MLFLOW_URI)"),
    "dbt": ("segrec.cli.dbt", "run dbt with Python models on the local Spark target (dbt-spark session "
            "method) enabled, e.g. `segrec dbt build --target spark`"),
    "docs": ("segrec.cli.docs", "write docs/architecture-dag.md, the DAG by layer and domain, from the dbt manifest"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="segrec", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (module, help_text) in SUBCOMMANDS.items():
        sub.add_parser(name, help=help_text, description=help_text).set_defaults(_module=module)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser()
    # Parse only the command name first, then let its module declare its own options.
    known, _ = parser.parse_known_args(argv[:1] if argv and not argv[0].startswith("-") else argv)
    module = importlib.import_module(known._module)
    sub_parser = argparse.ArgumentParser(prog=f"segrec {known.command}", description=module.__doc__)
    module.add_arguments(sub_parser)
    args = sub_parser.parse_args(argv[1:])
    try:
        return int(module.run(args) or 0)
    except SegrecError as exc:  # expected, user-facing failures: one clear line, no traceback
        print(f"segrec {known.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
