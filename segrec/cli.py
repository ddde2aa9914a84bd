"""The `segrec` command line. Each subcommand lives in its own module, which exposes
``add_arguments(parser)`` and ``run(args) -> int``; modules are imported only when used,
so `segrec --help` stays fast and one broken subcommand cannot break the others."""

from __future__ import annotations

import argparse
import importlib
import sys

from segrec.errors import SegrecError

# subcommand -> (module, one-line help)
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "generate": ("segrec.generate", "write deterministic synthetic raw data with known truth"),
    "ingest": ("segrec.ingest", "turn a public dataset into the raw contract (see `segrec ingest -h`)"),
    "export": ("segrec.exports", "write marts to exports/ as Parquet, a Tableau .hyper extract and a manifest"),
    "report": ("segrec.report", "write the static HTML segment report"),
    "runlog": ("segrec.runlog", "append a structured JSON run log of the last dbt build"),
    "summary": ("segrec.summary", "print row counts of a built warehouse (raw, clean, quarantined, ...)"),
    "run": ("segrec.run", "ingest one public dataset and build, export and report it into its own folder"),
    "results": ("segrec.results", "regenerate docs/results.md from the per-dataset runs"),
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
