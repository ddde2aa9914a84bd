"""The read-only recommendation service (`segrec serve`, docs/serving.md): the published
outputs of the last build over HTTP, with live events re-ranking a visitor's list.

Needs the ``serve`` extra (FastAPI, uvicorn): ``pip install -e ".[serve]"``.
"""

from segrec.serve.app import API_KEY_ENV, create_app
from segrec.serve.store import ServingBuild, load_build

__all__ = ["API_KEY_ENV", "ServingBuild", "create_app", "load_build"]
