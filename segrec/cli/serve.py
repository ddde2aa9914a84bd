"""`segrec serve`: the recommendation service over the published outputs of the last build
(the folder `segrec export` wrote, never the file `dbt build` writes). See docs/serving.md."""

from __future__ import annotations

import argparse
import os

from segrec.errors import SegrecError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--exports", default="exports", help="the export folder of `segrec export`")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: localhost only)")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--raw-dir", default=None,
                        help="raw folder POST /events appends to (e.g. data/raw); without it POST /events is off")
    parser.add_argument("--project-dir", default=".", help="the dbt project whose seeds and vars check events")
    parser.add_argument("--reload-interval", type=float, default=30.0,
                        help="seconds between checks for a new export (0: only POST /reload)")
    parser.add_argument("--max-body-bytes", type=int, default=64 * 1024, help="largest POST /events body")


def run(args: argparse.Namespace) -> int:
    try:
        import uvicorn

        from segrec.serve import API_KEY_ENV, create_app
    except ImportError as exc:
        raise SegrecError(f"`segrec serve` needs the serve extra: pip install -e \".[serve]\" ({exc})") from exc
    app = create_app(
        args.exports, raw_dir=args.raw_dir, project_dir=args.project_dir, api_key=os.environ.get(API_KEY_ENV),
        max_body_bytes=args.max_body_bytes, reload_interval=args.reload_interval or None,
    )
    # access_log off: request lines carry query strings; the app logs only what it means to
    uvicorn.run(app, host=args.host, port=args.port, access_log=False, log_level="info")
    return 0
