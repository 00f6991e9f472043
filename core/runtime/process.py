"""Running an async entry point and leaving the process with an honest exit status."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Callable, Coroutine
from typing import Any, NoReturn


def finish(status: int) -> NoReturn:
    """Flush and leave without interpreter teardown.

    A process that used the Temporal SDK can abort while the interpreter shuts
    down (sdk-python issue #300), after all its work is done; leaving here keeps
    the exit status honest.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


def run_and_exit(
    main: Callable[[], Coroutine[Any, Any, None]],
    *,
    loop_factory: Callable[[], asyncio.AbstractEventLoop] | None = None,
) -> NoReturn:
    """Run a coroutine, report an error in one line (no traceback), then exit."""
    status = 0
    try:
        with asyncio.Runner(loop_factory=loop_factory) as runner:
            runner.run(main())
    except KeyboardInterrupt:
        status = 130
    except Exception as exc:  # a command reports; it does not dump a traceback
        sys.stderr.write(f"error: {exc}\n")
        status = 1
    finish(status)
