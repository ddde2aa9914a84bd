"""The static HTML report: its SVG helpers, one chart element per datum in every section,
absent tables degrading to a note, and a real render in headless Chromium."""

from __future__ import annotations

import re
import struct
import subprocess
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from segrec.cli import main
from segrec.errors import SegrecError
from segrec.report import build_report, sections, svg
from segrec.report.page import _k_selection
from segrec.warehouse import open_warehouse
from tests.python.test_exports import tiny_warehouse

CHROMIUM = Path("/usr/bin/chromium")
SEGMENT_TABLES = (
    "customer_segments", "segment_profiles", "segment_transitions", "segmentation_runs", "segmentation_k_selection",
    "recommendation_metrics", "experiment_results", "customer_features",
)


def report_for(db: Path, **options) -> str:
    with open_warehouse(db) as con:
        return build_report(con, source=str(db), **options)


def section(page: str, key: str) -> str:
    match = re.search(rf'<section id="{key}" class="(\w+)">(.*?)</section>', page, re.S)
    assert match, f"no section {key}"
    return match.group(1) + ":" + match.group(2)


def count(fragment: str, element: str, cls: str) -> int:
    return len(re.findall(rf'<{element} class="{cls}"', fragment))


# ---------------------------------------------------------------------------- helpers
def test_nice_ticks_and_scale():
    assert svg.nice_ticks(0, 1) == [0, 0.2, 0.4, 0.6, 0.8, 1.0]
    assert svg.nice_ticks(0, 7) == [0, 2, 4, 6]
    assert svg.nice_ticks(-0.3, 0.55) == [-0.2, 0.0, 0.2, 0.4]
    assert svg.nice_ticks(3, 3) == [3]
    scale = svg.linear_scale((0, 10), (100, 200))
    assert (scale(0), scale(5), scale(10)) == (100, 150, 200)
    assert svg.linear_scale((2, 2), (0, 50))(2) == 25


def test_heat_colors_and_number_format():
    assert svg.heat_color(0.0) == "#f7fbff" and svg.heat_color(1.0) == "#084594" and svg.heat_color(7) == "#084594"
    assert [svg.fmt(v) for v in (1234, 2.0, 0.123456, None, float("nan"), True)] == ["1,234", "2", "0.123", "", "",
                                                                                     "yes"]


def test_bar_chart_draws_negative_bars_left_of_zero_with_whiskers():
    chart = svg.bar_chart(["up", "down"], [0.5, -0.25], title="t", errors=([0.1, -0.6], [0.9, 0.1]))
    bars = re.findall(r'<rect class="bar" x="([\d.]+)" y="[\d.]+" width="([\d.]+)"', chart)
    zero = float(re.search(r'<line class="zero" x1="([\d.]+)"', chart).group(1))
    (up_x, up_w), (down_x, down_w) = [(float(x), float(w)) for x, w in bars]
    # coordinates are written to 0.1 px
    assert up_x == pytest.approx(zero, abs=0.2) and down_x + down_w == pytest.approx(zero, abs=0.2)
    assert up_w == pytest.approx(2 * down_w, abs=0.3)
    assert count(chart, "path", "whisker") == 2


def test_heatmap_has_one_cell_per_value_and_escapes_labels():
    chart = svg.heatmap(["a<b", "c"], ["x", "y", "z"], np.array([[1, 2, np.nan], [0, 5, 6]]), title="h")
    assert count(chart, "rect", "cell") == 6
    assert chart.count(svg.MISSING_FILL) == 1
    assert "a&lt;b" in chart and "a<b" not in chart
    with pytest.raises(SegrecError, match="heatmap"):
        svg.heatmap(["a"], ["x"], np.ones((2, 2)), title="h")


def test_scatter_samples_at_most_max_points_deterministically():
    frame = pd.DataFrame({"pca_x": np.arange(100.0), "pca_y": np.arange(100.0) % 7,
                          "segment_name": ["A", "B"] * 50})
    colors = sections.segment_colors(["A", "B"])
    first = sections.scatter_section(frame, colors, max_points=10, random_state=1)
    assert count(first.body, "circle", "point") == 10 and "10 of 100 customers shown" in first.body
    assert first.body == sections.scatter_section(frame, colors, max_points=10, random_state=1).body
    assert count(sections.scatter_section(frame, colors).body, "circle", "point") == 100


# ---------------------------------------------------------------------------- the page
def test_report_sections_have_one_mark_per_datum(tmp_path):
    page = report_for(tiny_warehouse(tmp_path))
    sizes = section(page, "segments")
    assert sizes.startswith("present") and count(sizes, "rect", "bar") == 2
    assert "Lapsing &lt;buyers&gt; &amp; browsers" in sizes  # profile text is escaped
    pca = section(page, "pca")
    assert count(pca, "circle", "point") == 4  # the latest scoring run only (2 older rows left out)
    assert count(pca, "rect", "legend-key") == 2
    silhouette = section(page, "silhouette")
    assert len(re.findall(r'<circle class="marker', silhouette)) == 4  # k = 2..5 of model v2
    assert count(silhouette, "circle", "marker chosen") == 1 and "Chosen k = 2" in silhouette
    rfm = section(page, "rfm")
    assert count(rfm, "rect", "cell") == 9  # R {5, 3, 1} x F {2, 3, 4}
    assert "4 customers with both scores" in rfm
    transitions = section(page, "transitions")
    assert count(transitions, "rect", "cell") == 4  # {Champions, (new)} x {Champions, At Risk}
    assert "(new)" in transitions and transitions.count(svg.MISSING_FILL) == 1
    recommendations = section(page, "recommendations")
    assert count(recommendations, "rect", "bar") == 2  # als, popularity at ndcg@10
    assert count(recommendations, "rect", "cell") == 4  # 2 strategies x 2 segments
    experiments = section(page, "experiments")
    assert count(experiments, "rect", "bar") == 2 and count(experiments, "path", "whisker") == 2
    assert experiments.count(f'fill="{svg.PALETTE[4]}"') == 1  # only the real effect is significant
    assert "model_version v2" in page  # header: latest segmentation run


def test_report_is_self_contained(tmp_path):
    page = report_for(tiny_warehouse(tmp_path))
    assert page.startswith("<!DOCTYPE html>") and page.count("<svg") == 8  # 7 sections, 2 charts on recommendations
    for forbidden in ("<script", "<link", "<img", "src=", "url(", "@import", 'href="http'):
        assert forbidden not in page
    assert re.findall(r"https?://[^\"' ]+", page) == ["http://www.w3.org/2000/svg"] * 8  # namespaces only


def test_absent_tables_degrade_to_notes(tmp_path):
    page = report_for(tiny_warehouse(tmp_path, drop=SEGMENT_TABLES))
    for key in ("segments", "pca", "silhouette", "rfm", "transitions", "recommendations", "experiments"):
        assert section(page, key).startswith("missing:"), key
        assert "Not in this warehouse" in section(page, key)
    assert "<svg" not in page


def test_missing_pca_columns_and_profiles_are_named(tmp_path):
    page = report_for(tiny_warehouse(tmp_path, drop=("segment_profiles",)))
    assert "segment_profiles is absent: sizes counted from customer_segments" in section(page, "segments")
    frame = pd.DataFrame({"customer_key": ["c1"], "segment_name": ["A"]})
    assert "customer_segments column(s) pca_x, pca_y" in sections.scatter_section(frame, {}).body


def test_fairness_section_charts_worst_to_best_and_lists_flagged_groups_first():
    frame = pd.DataFrame({
        "strategy": ["ranker_blended"] * 3 + ["popularity"],
        "k": 10,
        "group_dimension": ["gender", "gender", "age_band", "gender"],
        "group_name": ["female", "male", "25-34", "female"],
        "n_users": [40, 50, 90, 40],
        "ndcg": [0.3, 0.2, 0.25, 0.1],
        "ndcg_ratio_to_best": [1.0, 2 / 3, 1.0, 1.0],
        "ndcg_worst_to_best": [2 / 3, 2 / 3, 1.0, 1.0],
        "is_below_quality_ratio": [False, True, False, False],
        "is_exposure_divergent": [False, False, False, False],
    })
    body = sections.fairness_section(frame).body
    assert count(body, "rect", "bar") == 2  # one bar per dimension of the served strategy
    rows = body[body.index("<tbody>"):]
    assert rows.index("male") < rows.index("25-34")  # the flagged group first
    assert "popularity" not in rows
    assert sections.fairness_section(None).present is False


def test_cli_writes_the_report(tmp_path, capsys):
    out = tmp_path / "reports" / "segment_report.html"
    args = ["report", "--db", str(tiny_warehouse(tmp_path)), "--out", str(out), "--run-results", "none.json"]
    assert main(args) == 0
    assert out.read_text().count('<circle class="point"') == 4
    assert main([*args, "--max-points", "0"]) == 2
    assert "--max-points" in capsys.readouterr().err


# ---------------------------------------------------------------------------- Chromium
def decode_png(data: bytes) -> np.ndarray:
    """An 8-bit non-interlaced PNG as a (height, width, channels) array: the chunks, zlib,
    and the five scanline filters of the PNG specification."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG file")
    pos, idat, header = 8, [], None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
    width, height, depth, color, _, _, interlace = header
    if depth != 8 or interlace or color not in (0, 2, 4, 6):
        raise ValueError(f"unsupported PNG: depth {depth}, colour type {color}, interlace {interlace}")
    channels = {0: 1, 2: 3, 4: 2, 6: 4}[color]
    stride = width * channels
    raw = np.frombuffer(zlib.decompress(b"".join(idat)), dtype=np.uint8).reshape(height, stride + 1)
    image, prior = np.zeros((height, stride), dtype=np.uint8), np.zeros(stride, dtype=np.uint8)
    for y in range(height):
        kind, line = raw[y, 0], raw[y, 1:]
        if kind == 0:  # None
            row = line.copy()
        elif kind == 1:  # Sub: running sum along each channel
            row = (np.cumsum(line.reshape(width, channels), axis=0, dtype=np.int64) % 256).astype(np.uint8).ravel()
        elif kind == 2:  # Up
            row = line + prior
        else:  # Average and Paeth depend on the byte just decoded: byte by byte
            row, up = bytearray(line.tobytes()), prior.tobytes()
            for i in range(stride):
                a = row[i - channels] if i >= channels else 0
                if kind == 3:
                    row[i] = (row[i] + ((a + up[i]) >> 1)) & 0xFF
                else:
                    b, c = up[i], (up[i - channels] if i >= channels else 0)
                    pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
                    row[i] = (row[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
            row = np.frombuffer(bytes(row), dtype=np.uint8)
        image[y] = prior = row
    return image.reshape(height, width, channels)


def test_decode_png_reads_a_hand_made_image():
    # 2x2 RGB: row 0 with the Sub filter, row 1 with Paeth
    rows = bytes([1, 10, 20, 30, 5, 5, 5]) + bytes([4, 1, 1, 1, 0, 0, 0])
    ihdr = struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0)

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")
    image = decode_png(png)
    assert image[0].tolist() == [[10, 20, 30], [15, 25, 35]]
    # Paeth: first pixel predicts from up (10,20,30); second from the best of left/up/up-left
    assert image[1].tolist() == [[11, 21, 31], [15, 25, 35]]


def chromium(*args: str, profile: Path) -> subprocess.CompletedProcess:
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={profile}"]
    return subprocess.run([str(CHROMIUM), *flags, *args], capture_output=True, text=True, timeout=180)


@pytest.mark.skipif(
    not CHROMIUM.exists(), reason="headless Chromium not installed at /usr/bin/chromium (apt-get install -y chromium)"
)
def test_report_renders_in_headless_chromium(tmp_path):
    report = tmp_path / "segment_report.html"
    report.write_text(report_for(tiny_warehouse(tmp_path)))
    png = tmp_path / "shot.png"
    # one launch both screenshots the page and prints the DOM it rendered
    shot = chromium(f"--screenshot={png}", "--dump-dom", "--window-size=1280,3000", report.as_uri(),
                    profile=tmp_path / "profile")
    assert png.is_file(), shot.stderr[-2000:]
    image = decode_png(png.read_bytes())[..., :3]
    assert image.shape[:2] == (3000, 1280)
    rgb = image.astype(np.uint32)
    colours = np.unique((rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2])  # packed: fast to count
    assert len(colours) > 100  # palette, heat shades, anti-aliased text: not a blank page
    assert (image != image[-1, -1]).any(axis=2).mean() > 0.1  # well over a tenth differs from the background
    assert image[10, 10].tolist() == [0x22, 0x33, 0x33]  # the header's background: the inline CSS applied
    dom = shot.stdout
    assert dom.count("<svg") == 8
    assert dom.count('<circle class="point"') == 4 and dom.count('<rect class="cell"') == 9 + 4 + 4


def test_silhouette_by_k_comes_from_the_candidates_when_the_hold_out_chose_k():
    candidates = pd.DataFrame({
        "segmentation": ["candidate"] * 4 + ["spend_quintiles"], "feature_set": ["value", "value", "all", "all", None],
        "k": [2, 3, 2, 3, 5], "silhouette": [0.4, 0.3, 0.2, 0.1, None], "r2": [0.1, 0.2, 0.3, 0.4, 0.05],
        "is_chosen": [False, True, False, False, False],
    })
    shown = _k_selection(pd.DataFrame({"k": [], "silhouette": []}), candidates)
    assert shown.to_dict("list") == {"k": [2, 3], "silhouette": [0.4, 0.3], "r2": [0.1, 0.2]}
    scan = pd.DataFrame({"k": [2], "silhouette": [0.5]})
    assert _k_selection(scan, candidates) is scan  # the run's own scan wins
    assert _k_selection(None, candidates.assign(is_chosen=False)) is None
