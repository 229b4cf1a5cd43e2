"""A bare aiohttp handler, the baseline every benchmark figure is compared with.

    python -m bench.bare PORT

`GET /` answers "ok" from one process on uvloop (as `portico serve` runs): no database, no
templates, no middleware. What a single aiohttp process on this machine can serve at best.
"""

from __future__ import annotations

import sys

import uvloop
from aiohttp import web


async def ok(_request: web.Request) -> web.Response:
    return web.Response(text="ok")


def main() -> None:
    app = web.Application()
    app.router.add_get("/", ok)
    uvloop.install()
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None)


if __name__ == "__main__":
    main()
