"""Scripts and styles of the footfall dashboards, served by the console itself (never a CDN).

Two kinds: our own small files in `analytics/static/`, and the chart library, npm's `chart.js`
installed by `make` into `node_modules/` at the root of the repository (package.json pins it;
node_modules is not committed). Each file is read once, when the console starts, and served
from memory under a URL carrying its version or content hash, so browsers may cache it for a
year. Without the chart library the dashboards still show their numbers and tables: one log
line says why the charts are missing.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

log = logging.getLogger("portico.console")

ROOT = Path(__file__).resolve().parent.parent  # the repository (or the installed tree)
CHART_PACKAGE = ROOT / "node_modules" / "chart.js"
CHART_FILE = "dist/chart.umd.js"  # the UMD build: one file, defines window.Chart
STATIC_DIR = Path(__file__).resolve().parent / "static"
JS_TYPE = "text/javascript"
CSS_TYPE = "text/css"
LONG_CACHE = "public, max-age=31536000, immutable"  # the URL changes when the content does
_VERSION = re.compile(r"^[0-9A-Za-z.+-]{1,40}$")
_OWN_FILES = {"footfall.js": JS_TYPE, "footfall.css": CSS_TYPE}


@dataclass(frozen=True)
class Asset:
    url: str
    body: bytes
    content_type: str


@dataclass(frozen=True)
class Assets:
    """What the footfall pages link to; `chart` is None when the library is not installed."""

    chart: Asset | None
    own: dict[str, Asset]  # file name -> asset
    by_url: dict[str, Asset]


ASSETS = web.AppKey("footfall_assets", Assets)


def load_chart_library(package: Path = CHART_PACKAGE) -> Asset | None:
    """chart.js's UMD build and its version, or None (and a log line saying why)."""
    script = package / CHART_FILE
    try:
        manifest = json.loads((package / "package.json").read_text(encoding="utf-8"))
        body = script.read_bytes()
    except FileNotFoundError as exc:
        log.warning(
            "footfall charts off: %s missing (install npm and run make, or npm ci --omit=dev "
            "--ignore-scripts); the dashboards show tables only",
            exc.filename,
        )
        return None
    except (OSError, ValueError) as exc:
        log.warning("footfall charts off: cannot read %s: %s", package, exc)
        return None
    version = manifest.get("version") if isinstance(manifest, dict) else None
    if not isinstance(version, str) or not _VERSION.match(version):
        version = hashlib.sha256(body).hexdigest()[:12]
    if not version.startswith("4."):
        log.warning("footfall charts: chart.js %s found, the pages are written for 4.x", version)
    return Asset(f"/static/vendor/chart-{version}.umd.js", body, JS_TYPE)


def load_own_files(folder: Path = STATIC_DIR) -> dict[str, Asset]:
    own = {}
    for name, content_type in _OWN_FILES.items():
        body = (folder / name).read_bytes()
        digest = hashlib.sha256(body).hexdigest()[:12]
        stem, _, suffix = name.rpartition(".")
        own[name] = Asset(f"/static/footfall/{stem}.{digest}.{suffix}", body, content_type)
    return own


def load_assets(package: Path = CHART_PACKAGE) -> Assets:
    chart, own = load_chart_library(package), load_own_files()
    by_url = {a.url: a for a in own.values()}
    if chart is not None:
        by_url[chart.url] = chart
    return Assets(chart, own, by_url)


async def serve_asset(request: web.Request) -> web.Response:
    """GET one of the loaded files by its versioned URL; anything else is a 404."""
    asset = request.app[ASSETS].by_url.get(request.path)
    if asset is None:
        raise web.HTTPNotFound()
    return web.Response(
        body=asset.body,
        content_type=asset.content_type,
        charset="utf-8",
        headers={"Cache-Control": LONG_CACHE},
    )
