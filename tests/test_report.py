"""bench.report and `tierbench report`: one self-contained HTML file; checked in headless Chromium."""
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bench.report import latency_percentiles, render_report
from bench.store import Store
from tests.compare_fixtures import make_doc, write_run

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def report_file(tmp_path_factory):
    """A report of two runs with every section's data (latency bins, phases, scaling, monitor), via the CLI."""
    tmp = tmp_path_factory.mktemp("report")
    store = Store(tmp / "store")
    write_run(store, make_doc("base-run", 1, extras=True))
    write_run(store, make_doc("new-run", 2, extras=True, iops_factor=0.7))
    out = tmp / "report.html"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "-m", "bench", "report", "base-run", "new-run", "-o", str(out),
                           "--results", str(store.root)], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "wrote" in proc.stderr and proc.stdout == ""
    return out


def test_report_is_self_contained(report_file):
    text = report_file.read_text()
    refs = re.findall(r'(?:src|href)\s*=\s*"([^"]*)"', text)
    assert refs and all(r.startswith(("data:", "#")) for r in refs)
    assert not re.search(r'(?:src|href)\s*=\s*["\']?\s*(?:https?:)?//', text)
    assert "<script" not in text.lower() and "@import" not in text and "url(" not in text
    imgs = re.findall(r'<img [^>]*src="data:image/png;base64,[A-Za-z0-9+/=]+"', text)
    assert len(imgs) >= 6   # IOPS/GB, latency, phases, 2 scaling, 2 monitor


def test_report_has_every_section_and_the_comparison(report_file):
    text = report_file.read_text()
    for section in ("runs", "cases", "iops-per-gb", "latency", "phases", "scaling", "monitor", "compare"):
        assert f'<section id="{section}">' in text
    assert "not measured" not in text
    assert 'class="regressed"' in text and "base-run &rarr; new-run" in text
    assert '<span class="emu">emulated</span>' in text


def test_missing_data_says_not_measured():
    doc = make_doc("plain", 1, repeats=2)
    for c in doc["cases"]:
        c["phases"] = []
    text = render_report([doc])
    for what in ("latency percentile curves (latency_bins_ns)", "phase breakdown", "scaling", "monitor series"):
        assert f"{what}: not measured" in text
    assert '<section id="compare">' not in text
    assert text.count("<img ") == 1  # IOPS per GB only


def test_report_of_different_machines_shows_them_side_by_side():
    from tests.compare_fixtures import OTHER_MACHINE

    text = render_report([make_doc("a", 1, repeats=3), make_doc("b", 2, repeats=3, machine=OTHER_MACHINE)])
    assert "No regression verdicts" in text and "hostname differs" in text


def test_latency_percentiles_from_bins():
    xs, ys = latency_percentiles({"2000": 50, "1000": 25, "4000": 25, "8000": 0})
    assert xs == [1.0, 2.0, 4.0]
    assert ys == pytest.approx([0.125, 0.5, 0.875])


def test_report_cli_bad_input(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    store = Store(tmp_path / "store")
    write_run(store, make_doc("r", 1, repeats=1))
    for args, needle in ((["nope", "-o", str(tmp_path / "x.html")], "no run 'nope'"),
                         (["r", "-o", str(tmp_path / "missing" / "x.html")], "does not exist")):
        proc = subprocess.run([sys.executable, "-m", "bench", "report", *args, "--results", str(store.root)],
                              cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
        assert proc.returncode == 2 and needle in proc.stderr and proc.stderr.count("\n") == 1


def _chromium(*args, timeout=120):
    return subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                           "--user-data-dir=" + args[0], *args[1:]], capture_output=True, text=True,
                          timeout=timeout)


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (Debian: apt-get install chromium); "
                                             "the report's browser check needs it")
def test_report_loads_in_headless_chromium(report_file, tmp_path):
    # The report has no JavaScript. This test checks a copy with one probe script added, which records
    # whether each <img> decoded (naturalWidth > 0) into the DOM that --dump-dom prints.
    probe = tmp_path / "probe.html"
    probe.write_text(report_file.read_text().replace("</body>", (
        "<script>window.addEventListener('load', function () {"
        "var s = Array.from(document.images).map(function (i) { return i.complete && i.naturalWidth > 0 ? 1 : 0; });"
        "var p = document.createElement('pre'); p.id = 'img-probe'; p.textContent = 'decoded:' + s.join(',');"
        "document.body.appendChild(p); });</script></body>")))
    profile = str(tmp_path / "profile")
    dom = _chromium(profile, "--virtual-time-budget=5000", "--dump-dom", probe.as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert dom.stdout.count("<img ") >= 6
    decoded = re.search(r'id="img-probe">decoded:([01,]+)<', dom.stdout)
    assert decoded, dom.stdout[-2000:]
    flags = decoded.group(1).split(",")
    assert len(flags) == dom.stdout.count("<img ") and set(flags) == {"1"}

    shot = tmp_path / "shot.png"
    proc = _chromium(profile, f"--screenshot={shot}", "--window-size=1200,3000", report_file.as_uri())
    assert proc.returncode == 0 and shot.exists(), proc.stderr[-2000:]
    import matplotlib.image

    pixels = matplotlib.image.imread(str(shot))
    assert pixels.shape[:2] == (3000, 1200)
    # Not blank: plenty of non-white pixels and many distinct colours (text, tables, plot lines).
    rgb = (pixels[..., :3] * 255).astype("uint8").reshape(-1, 3)
    assert (rgb.min(axis=1) < 200).mean() > 0.02
    assert len({tuple(c) for c in rgb[::97]}) > 50
