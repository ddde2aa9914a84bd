"""The layering rule of the models tree (docs/architecture.md), read from dbt's manifest: which
layer may read which, every model in a folder of its layer with the name prefix of its layer,
and one ``_<folder>__models.yml`` per folder of models."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from segrec.docs import architecture_markdown

from .dbt_harness import PROJECT_ROOT, SAMPLE, DbtProject

pytestmark = pytest.mark.dbt

# layer -> the layers (and "source", "seed") its models may read
MAY_READ = {
    "staging": {"source", "seed"},
    "intermediate": {"staging", "intermediate", "seed"},
    "marts": {"intermediate", "staging", "seed", "marts"},
    "monitoring": {"source", "seed", "staging", "intermediate", "marts", "monitoring"},
}
DOMAINS = {
    "intermediate": {"events", "customers", "segmentation", "recommendations", "activation"},
    "marts": {"core", "segments", "recommendations", "marketing", "tracking"},
}


def layer_of(path: str) -> str:
    """The layer of a model file: the folder under models/."""
    parts = Path(path).parts
    assert parts[0] == "models" and parts[1] in MAY_READ, f"{path}: not in models/<layer>/"
    return parts[1]


def name_fits_layer(name: str, layer: str) -> bool:
    if layer == "staging":
        return name.startswith("stg_")
    if layer == "intermediate":
        return name.startswith("int_")
    return not name.startswith(("stg_", "int_"))


@pytest.fixture(scope="module")
def manifest(tmp_path_factory) -> dict:
    project = DbtProject(raw_dir=SAMPLE, work_dir=tmp_path_factory.mktemp("layering"))
    project.run("parse")
    return json.loads((project.work_dir / "target" / "manifest.json").read_text())


@pytest.fixture(scope="module")
def models(manifest) -> dict[str, dict]:
    return {key: node for key, node in manifest["nodes"].items() if node["resource_type"] in ("model", "seed")}


def test_the_architecture_page_shows_the_current_dag(manifest):
    """docs/architecture-dag.md is what `segrec docs` writes for the models as they are now
    (regenerate it with `make docs` after adding, moving or re-wiring a model)."""
    committed = (PROJECT_ROOT / "docs" / "architecture-dag.md").read_text()
    assert committed == architecture_markdown(manifest)


def kind(key: str, nodes: dict[str, dict]) -> str:
    resource = key.split(".")[0]
    if resource in ("source", "seed"):
        return resource
    return layer_of(nodes[key]["original_file_path"])


def test_each_layer_reads_only_the_layers_below_it(models):
    wrong = []
    for node in models.values():
        if node["resource_type"] != "model":
            continue
        layer = layer_of(node["original_file_path"])
        for parent in node["depends_on"]["nodes"]:
            if kind(parent, models) not in MAY_READ[layer]:
                wrong.append(f"{node['name']} ({layer}) reads {parent} ({kind(parent, models)})")
    assert wrong == []


def test_models_live_in_their_layer_and_domain_with_the_layer_prefix(models):
    wrong = []
    for node in models.values():
        if node["resource_type"] != "model":
            continue
        path = Path(node["original_file_path"])
        layer = layer_of(str(path))
        if not name_fits_layer(node["name"], layer):
            wrong.append(f"{path}: name prefix does not fit the {layer} layer")
        if layer in DOMAINS and (len(path.parts) != 4 or path.parts[2] not in DOMAINS[layer]):
            wrong.append(f"{path}: not in a domain folder of {layer} ({sorted(DOMAINS[layer])})")
        if layer in ("staging", "monitoring") and len(path.parts) != 3:
            wrong.append(f"{path}: {layer} has no subfolders")
    assert wrong == []


def test_one_models_yml_per_folder_of_models():
    wrong = []
    for folder in sorted({p.parent for p in (PROJECT_ROOT / "models").rglob("*") if p.suffix in (".sql", ".py")}):
        ymls = sorted(p.name for p in folder.glob("_*__models.yml"))
        if ymls != [f"_{folder.name}__models.yml"]:
            wrong.append(f"{folder.relative_to(PROJECT_ROOT)}: {ymls}")
    assert wrong == []
