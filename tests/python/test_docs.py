"""`segrec docs`: the DAG by layer and domain as Mermaid, exactly, on a hand-made manifest (an
intermediate model reading a mart shows as an edge back from marts to intermediate)."""

from __future__ import annotations

import json

from segrec.cli import main
from segrec.docs import architecture_markdown, architecture_mermaid


def model(name: str, *folders: str, parents: tuple[str, ...] = ()) -> tuple[str, dict]:
    return f"model.segrec.{name}", {
        "resource_type": "model", "name": name, "fqn": ["segrec", *folders, name],
        "depends_on": {"nodes": list(parents)},
    }


def small_manifest() -> dict:
    return {
        "nodes": dict([
            ("seed.segrec.aliases", {"resource_type": "seed", "name": "aliases", "fqn": ["segrec", "aliases"]}),
            ("test.segrec.not_null_x", {"resource_type": "test", "name": "not_null_x",
                                        "depends_on": {"nodes": ["model.segrec.fct_events"]}}),
            model("stg_raw__events", "staging", parents=("source.segrec.raw.events",)),
            model("int_events__validated", "intermediate", "events",
                  parents=("model.segrec.stg_raw__events", "seed.segrec.aliases")),
            model("int_customers__scores", "intermediate", "customers", parents=("model.segrec.fct_events",)),
            model("fct_events", "marts", "core", parents=("model.segrec.int_events__validated",)),
            model("build_history", "monitoring", parents=("model.segrec.fct_events",)),
        ]),
        "sources": {"source.segrec.raw.events": {"name": "events"}, "source.segrec.raw.products": {"name": "products"}},
        "exposures": {
            "exposure.segrec.dash": {"name": "dash", "label": "Dashboard",
                                     "depends_on": {"nodes": ["model.segrec.fct_events"]}},
        },
    }


EXPECTED = """flowchart LR
    raw_sources[("raw sources: 2 tables")]
    seeds[("seeds: aliases")]
    subgraph layer_staging["staging"]
        stg_raw__events[stg_raw__events]
    end
    subgraph layer_intermediate["intermediate"]
        subgraph layer_intermediate_customers["intermediate/customers"]
            int_customers__scores[int_customers__scores]
        end
        subgraph layer_intermediate_events["intermediate/events"]
            int_events__validated[int_events__validated]
        end
    end
    subgraph layer_marts["marts"]
        subgraph layer_marts_core["marts/core"]
            fct_events[fct_events]
        end
    end
    subgraph layer_monitoring["monitoring"]
        build_history[build_history]
    end
    subgraph layer_exposures["exposures"]
        exposure_dash>"Dashboard"]
    end
    layer_intermediate_events --> layer_marts_core
    layer_marts_core --> exposure_dash
    layer_marts_core --> layer_intermediate_customers
    layer_marts_core --> layer_monitoring
    layer_staging --> layer_intermediate_events
    raw_sources --> layer_staging
    seeds --> layer_intermediate_events
"""


def test_mermaid_groups_the_dag_by_layer_and_domain():
    assert architecture_mermaid(small_manifest()) == EXPECTED


def test_cli_writes_the_page_and_needs_a_manifest(tmp_path, capsys):
    manifest, out = tmp_path / "manifest.json", tmp_path / "docs" / "architecture-dag.md"
    assert main(["docs", "--manifest", str(manifest), "--out", str(out)]) == 2
    assert "run `dbt parse` first" in capsys.readouterr().err
    assert not out.exists()
    manifest.write_text(json.dumps(small_manifest()))
    assert main(["docs", "--manifest", str(manifest), "--out", str(out)]) == 0
    assert out.read_text() == architecture_markdown(small_manifest())
    assert "```mermaid\n" + EXPECTED + "```\n" in out.read_text()
