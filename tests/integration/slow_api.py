"""`python -m tests.integration.slow_api`: the production API entry point plus one slow route,
so a test can SIGTERM it with a request in flight."""

from __future__ import annotations

import asyncio
import os

from api.app import create_app
from api.main import serve
from core.runtime.process import run_and_exit
from core.runtime.settings import Settings


def main() -> None:
    settings = Settings()
    app = create_app(settings)
    delay = float(os.environ.get("SLOW_SECONDS", "3"))

    @app.get("/slow")
    async def slow() -> dict[str, str]:
        await asyncio.sleep(delay)
        return {"status": "finished"}

    run_and_exit(lambda: serve(settings, app))


if __name__ == "__main__":
    main()
