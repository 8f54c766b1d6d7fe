"""Headless Chromium (Debian's `chromium`) for the report tests: a screenshot of a page
and, from a copy of the page with a probe script, which of its images loaded."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--virtual-time-budget=10000",  # let every image load before the capture
]
PROBE = """<script>
window.addEventListener("load", () => {
  const imgs = Array.from(document.images);
  const bad = imgs.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src);
  const out = document.createElement("pre");
  out.id = "image-probe";
  out.textContent = JSON.stringify({total: imgs.length, broken: bad,
    sizes: imgs.map(i => [i.naturalWidth, i.naturalHeight])});
  document.body.appendChild(out);
});
</script>"""


def chromium() -> str | None:
    """The Chromium binary, or None."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _run(args: list[str], timeout: float = 120.0) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory() as profile:
        cmd = [chromium(), *FLAGS, f"--user-data-dir={profile}", *args]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)


def screenshot(page: Path, png: Path, size: tuple[int, int] = (1280, 4000)) -> Path:
    """A PNG of the page as Chromium renders it."""
    r = _run([f"--screenshot={png}", f"--window-size={size[0]},{size[1]}", page.as_uri()])
    if not png.exists():
        raise RuntimeError(f"chromium wrote no screenshot (rc {r.returncode}): {r.stderr[-2000:]}")
    return png


def images(page: Path) -> dict:
    """{total, broken: [src], sizes: [[w, h]]} of the page's <img> elements after load."""
    probe = page.with_name(page.stem + "-probe.html")
    probe.write_text(page.read_text().replace("</body>", PROBE + "</body>"))
    try:
        r = _run(["--dump-dom", probe.as_uri()])
    finally:
        probe.unlink()
    m = re.search(r'<pre id="image-probe">(.*?)</pre>', r.stdout, re.S)
    if not m:
        raise RuntimeError(f"the probe did not run (rc {r.returncode}): {r.stderr[-2000:]}")
    return json.loads(m.group(1).replace("&quot;", '"').replace("&amp;", "&"))
