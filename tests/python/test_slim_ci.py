"""Slim CI: `state:modified+` against a production manifest selects exactly the changed
model and its children, and `--defer` builds them on top of production."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from segrec.rawio import write_raw_table

from .dbt_harness import PROJECT_ROOT, DbtProject
from .test_dbt_bad_input import EVENTS

pytestmark = pytest.mark.dbt

DBT_FILES = ["dbt_project.yml", "profiles.yml", "models", "macros", "seeds", "tests"]


def copy_dbt_project(destination: Path) -> Path:
    destination.mkdir(parents=True)
    for name in DBT_FILES:
        source = PROJECT_ROOT / name
        if source.is_dir():
            shutil.copytree(source, destination / name, ignore=shutil.ignore_patterns("python", "__pycache__"))
        elif source.exists():
            shutil.copy(source, destination / name)
    return destination


def listed(project: DbtProject, *select: str) -> set[str]:
    output = project.run("ls", "--resource-type", "model", "--output", "name", "--select", *select).stdout
    return {line.strip() for line in output.splitlines() if line.strip() and " " not in line.strip()}


def test_state_modified_selects_changed_model_and_children(tmp_path):
    raw = tmp_path / "raw"
    write_raw_table(EVENTS, "events", raw)
    project = DbtProject(raw_dir=raw, work_dir=tmp_path / "work", project_dir=copy_dbt_project(tmp_path / "p"))
    # production: the whole project, even the models the two-event fixture gives no rows (ALS, metrics)
    project.run("build", "--exclude", "resource_type:test", "resource_type:unit_test")
    project.run("compile", "--target-path", str(tmp_path / "prod-state"))

    assert listed(project, "state:modified+", "--state", str(tmp_path / "prod-state")) == set()

    # a model in the middle: its parents come from production, its children are rebuilt
    changed = project.project_dir / "models/intermediate/segmentation/int_segmentation__segments.sql"
    original = changed.read_text()
    changed.write_text(original.replace("segment.rules,\n", "segment.rules,  -- changed\n", 1))
    assert changed.read_text() != original
    expected = listed(project, "int_segmentation__segments+")
    assert {"int_segmentation__segments", "customer_segments", "segment_profiles"} <= expected
    assert "fct_events" not in expected

    selected = listed(project, "state:modified+", "--state", str(tmp_path / "prod-state"))
    assert selected == expected

    # the deferred build runs only the selection, reading unchanged parents from production
    result = project.run(
        "build", "--select", "state:modified+", "--defer", "--state", str(tmp_path / "prod-state"),
        "--exclude", "resource_type:unit_test",
    )
    built = {line.split(" model main.")[1].split(" ")[0] for line in result.stdout.splitlines()
             if " OK created " in line and " model main." in line}
    assert built == expected
