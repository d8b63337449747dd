"""The index page in headless Chromium: every picture loads (no broken images).

Chromium comes from the Debian ``chromium`` package; the fixture installs it with
``apt-get`` when it is missing and skips, saying why, where that is impossible.
A probe copy of the index records each <img>'s natural size into the DOM, which
``--dump-dom`` prints; a deliberately broken <img> on it proves the probe would notice. A screenshot of
the page is kept next to the report (``screenshot.png``) for a person to look at.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from snndsl.compiler import trace_passes
from snndsl.viz.report import write_report

from ..conftest import EXAMPLES

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--hide-scrollbars",
         "--no-first-run", "--disable-dev-shm-usage"]
PROBE = """<script>window.addEventListener("load", function () {
  var r = [].map.call(document.images, function (i) { return [i.getAttribute("src"), i.naturalWidth]; });
  var p = document.createElement("pre"); p.id = "probe"; p.textContent = JSON.stringify(r);
  document.body.appendChild(p);
});</script>"""


def _find() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if path := shutil.which(name):
            return path
    return None


@pytest.fixture(scope="module")
def chromium() -> str:
    found = _find()
    if found:
        return found
    if not shutil.which("apt-get") or os.geteuid() != 0:
        pytest.skip("headless Chromium is not installed and cannot be installed here (needs root and apt-get)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "install", "-y", "chromium"], ["apt-get", "update"], ["apt-get", "install", "-y", "chromium"]):
        try:
            subprocess.run(cmd, env=env, capture_output=True, timeout=900, check=False)
        except subprocess.TimeoutExpired:
            break
        if found := _find():
            return found
    pytest.skip("headless Chromium could not be installed with `apt-get install -y chromium` (no network?)")


def _images(chromium: str, page: Path) -> dict[str, int]:
    """src -> naturalWidth of every <img> on ``page``, plus a deliberately broken one."""
    probe = page.with_name("_probe.html")
    control = '<img src="_missing.png" alt="control">'
    probe.write_text(page.read_text().replace("</body>", control + PROBE + "</body>"))
    done = subprocess.run([chromium, *FLAGS, "--virtual-time-budget=10000", "--dump-dom", probe.as_uri()],
                          capture_output=True, text=True, timeout=120, check=False)
    probe.unlink()
    m = re.search(r'<pre id="probe">(.*?)</pre>', done.stdout, re.S)
    assert m, f"no probe result from Chromium (exit {done.returncode}): {done.stderr[-2000:]}"
    widths = dict(json.loads(m.group(1)))
    assert widths.pop("_missing.png") == 0, "the probe cannot tell a broken image from a loaded one"
    return widths


@pytest.mark.parametrize("fmt", ["svg", "png"])
def test_every_picture_loads_in_chromium(chromium, tmp_path, fmt):
    out = tmp_path / fmt
    write_report(trace_passes((EXAMPLES / "sew_resnet.snn").read_text(), "examples/sew_resnet.snn"), source="examples/sew_resnet.snn", outdir=out, fmt=fmt)
    widths = _images(chromium, out / "index.html")
    assert len(widths) >= 5
    assert sorted(widths) == sorted(p.name for p in out.glob(f"*.{fmt}"))
    assert all(w > 0 for w in widths.values()), widths
    if fmt == "svg":
        shot = out / "screenshot.png"
        subprocess.run([chromium, *FLAGS, "--window-size=1280,2000", f"--screenshot={shot}",
                        (out / "index.html").as_uri()], capture_output=True, timeout=120, check=False,
                       cwd=tmp_path)
        assert shot.exists() and shot.stat().st_size > 20_000, "the screenshot is missing or blank"
        print(f"screenshot: {shot}")
