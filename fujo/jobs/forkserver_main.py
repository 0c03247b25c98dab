"""Loads the server's script in the job fork server once (fujo.jobs.isolated preloads this module).

Python 3.11's fork server is meant to do this itself when ``"__main__"`` is preloaded, but it looks
for the script's path under a key that multiprocessing stopped writing in 3.4, so it never does
(CPython gh-126631 / gh-137996, fixed in 3.13): every child then runs the script again — for
``fujo serve`` (a console script) that is the whole CLI imported anew for each job, 100 ms a job.
The parent names its script in ``isolated.MAIN_ENV`` (the path exactly as multiprocessing sends it
to each child); loaded here as the fixed fork server loads it, a child finds it loaded and goes on.
Only a fork server imports this module (the parent sets or clears the variable just before it
starts one, so a variable inherited from another process is never used).
"""

from __future__ import annotations

import os
from multiprocessing import process, spawn

from .isolated import MAIN_ENV

_path = os.environ.get(MAIN_ENV)
if _path:
    process.current_process()._inheriting = True  # type: ignore[attr-defined]  # as the fork server does
    try:
        spawn.import_main_path(_path)
    except Exception:  # noqa: S110 - a script that cannot be loaded here is run in each child, as before
        pass
    finally:
        del process.current_process()._inheriting  # type: ignore[attr-defined]
