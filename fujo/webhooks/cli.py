"""``fujo worker``: the webhook delivery worker (fujo/webhooks/worker.py), registered by the CLI's
plugin list (fujo/cli/main.py ``_plugins``)."""

from __future__ import annotations

import logging
import signal
import sys
from types import FrameType

import typer

from ..cli.common import database, handle_errors, log_to_stderr
from ..config import load_settings


def register(app: typer.Typer) -> None:
    @app.command("worker")
    @handle_errors
    def worker(
        once: bool = typer.Option(False, "--once", help="deliver what is due now, then exit (cron, tests)"),
        interval: float = typer.Option(2.0, min=0.05, help="seconds between passes when idle"),
        timeout: float = typer.Option(10.0, min=0.05, help="seconds for each HTTP step (connect, send, answer)"),
        backoff: float = typer.Option(5.0, min=0.0, help="seconds before the first retry (doubled each time)"),
        backoff_cap: float = typer.Option(3600.0, min=0.0, help="longest wait between retries, in seconds"),
        lease: float = typer.Option(
            120.0,
            min=0.1,
            help="seconds a webhook stays claimed without renewal: a killed worker's webhooks wait this long "
            "before another worker serves them (never less than 4 × --timeout)",
        ),
    ):
        """Deliver webhook events (late tickets pushed to facilities) and run the import jobs left by a
        server that died (fujo/jobs), until SIGTERM or SIGINT."""
        from ..jobs.runner import JobRunner
        from .worker import WebhookWorker, WorkerConfig

        log_to_stderr()
        config = WorkerConfig(
            interval=interval, timeout=timeout, backoff_base=backoff, backoff_cap=backoff_cap, lease=lease
        )
        w = WebhookWorker(database(), config)
        jobs = JobRunner(w.db, interval=interval, data_dir=load_settings().data_dir)
        if once:
            try:
                ran = jobs.run_once()
                sent = w.run_once()
            finally:
                w.close()
            sys.stdout.write(f"delivered {sent} event(s)\nran {ran} job(s)\n")
            return

        def _stop(signum: int, _frame: FrameType | None) -> None:
            logging.getLogger("fujo.webhooks").info("signal %s: stopping after the attempt under way", signum)
            w.stop.set()
            jobs.stop.set()

        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
        import threading

        runner = threading.Thread(target=jobs.run, name="fujo-jobs", daemon=True)  # imports beside deliveries
        runner.start()
        try:
            w.run()
        finally:
            jobs.stop.set()
            runner.join(30)
