"""Fixtures for background work: a simulated vendor on loopback, vendor rewards, and a real
Celery worker (a subprocess) on a real Redis broker, working on the pytest-django test database.

The worker is started once per test module that asks for it. It reads the test settings with
CELERY_TASK_ALWAYS_EAGER=0, DATABASE_URL pointing at the test database (so tests using it are
`transaction=True`: the worker sees committed rows only), and the broker on its own Redis
database (config/settings/test.py: the cache's database is flushed between tests).
"""

from __future__ import annotations

import email
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import redis
from django.conf import settings
from django.db import transaction

from config.celery import app as celery_app
from loyalty.services import points_earn, points_hold
from orders.models import Voucher
from rewards.models import Reward, StockMovement, Vendor
from rewards.services import reward_stock_take, vendor_save
from rewards.vendor_simulator import VendorSimulator
from tests.factories import reward_with_sku

ROOT = Path(__file__).resolve().parents[2]
VENDOR_API_KEY = "vk_test_9f8e7d6c5b4a"


def wait_for(predicate: Callable[[], Any], *, timeout: float = 20.0, what: str = "") -> Any:
    """Poll `predicate` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or predicate}")
        time.sleep(0.05)


# --- The simulated vendor ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def _vendor_server() -> Iterator[VendorSimulator]:
    # One server per module: stopping one waits out its poll interval (0.5 s).
    with VendorSimulator() as simulator:
        yield simulator


@pytest.fixture
def vendor_sim(_vendor_server) -> VendorSimulator:
    """The simulated vendor, reset: no calls, no codes, every call answered "ok"."""
    state = _vendor_server.state
    with state.lock:
        state.calls.clear()
        state.issued.clear()
    _vendor_server.script(default="ok", slow_seconds=2.0)
    return _vendor_server


@pytest.fixture
def vendor(db, vendor_sim) -> Vendor:
    """A vendor on the simulator with small numbers: 2 s timeout, 2 retries, 1 s base backoff."""
    return vendor_save(
        vendor=Vendor(
            name=f"SimVendor-{uuid.uuid4().hex[:8]}",
            base_url=vendor_sim.url,
            timeout_seconds=Decimal("2"),
            max_retries=2,
            backoff_base_seconds=1,
            backoff_max_seconds=2,
        ),
        api_key=VENDOR_API_KEY,
    )


def vendor_reward(company, vendor: Vendor, sku: str = "GIFTCARD", **fields: Any) -> Reward:
    fields.setdefault("qty", 10)
    return reward_with_sku(
        company,
        sku,
        fulfilment=Reward.Fulfilment.VENDOR,
        vendor=vendor,
        vendor_product_code=f"P-{sku}",
        **fields,
    )


# --- A real worker ----------------------------------------------------------------------------


def _database_url() -> str:
    """The pytest-django test database (its NAME is the test one once the test DB exists)."""
    db = settings.DATABASES["default"]
    user = quote(db.get("USER") or "", safe="")
    password = quote(db.get("PASSWORD") or "", safe="")
    auth = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host = db.get("HOST") or "127.0.0.1"
    port = f":{db['PORT']}" if db.get("PORT") else ""
    return f"postgres://{auth}{host}{port}/{quote(db['NAME'], safe='')}"


class Worker:
    """`celery -A config worker` as a subprocess in its own process group (so that killing it
    kills its pool children too, as a crashed machine would)."""

    def __init__(self, *, env: dict[str, str], log_dir: Path, mail_dir: Path) -> None:
        self.env = env
        self.log_dir = log_dir
        self.mail_dir = mail_dir
        self.proc: subprocess.Popen | None = None
        self.name = ""
        self.log_path: Path | None = None
        self._starts = 0

    def start(self) -> Worker:
        self._starts += 1
        self.name = f"bgtest{self._starts}-{uuid.uuid4().hex[:6]}@localhost"
        self.log_path = self.log_dir / f"worker-{self._starts}.log"
        log = self.log_path.open("w")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "--loglevel=INFO",
                "--pool=prefork",
                "--concurrency=4",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "-n",
                self.name,
            ],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + 30
        while " ready." not in self.log():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the Celery worker did not start:\n{self.log()[-4000:]}")
            time.sleep(0.1)
        return self

    def log(self) -> str:
        return self.log_path.read_text() if self.log_path and self.log_path.exists() else ""

    def running_task_pids(self, task_name: str) -> list[int]:
        """The pool processes running `task_name` now (asked over the broker)."""
        replies = celery_app.control.inspect(destination=[self.name], timeout=2).active() or {}
        return [
            task["worker_pid"]
            for tasks in replies.values()
            for task in tasks
            if task["name"] == task_name and task.get("worker_pid")
        ]

    def kill(self) -> None:
        """SIGKILL the worker and its pool: no shutdown, no acknowledgement, no cleanup."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.kill()


@pytest.fixture(scope="module")
def worker(django_db_setup, django_db_blocker, tmp_path_factory) -> Iterator[Worker]:
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    broker.flushdb()  # the broker's own database: nothing left over from an earlier run
    mail_dir = tmp_path_factory.mktemp("mail")
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="tests.background.worker_settings",
        CELERY_TASK_ALWAYS_EAGER="0",
        CELERY_BROKER_URL=settings.CELERY_BROKER_URL,
        DATABASE_URL=_database_url(),
        TEST_EMAIL_DIR=str(mail_dir),
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    )
    handle = Worker(env=env, log_dir=tmp_path_factory.mktemp("worker"), mail_dir=mail_dir)
    handle.start()
    try:
        yield handle
    finally:
        handle.stop()
        broker.flushdb()
        broker.close()


@pytest.fixture
def live(worker, transactional_db) -> Iterator[Worker]:
    """This process sends tasks to the broker (not inline) for the test's duration; the worker
    runs them. Messages still queued from an earlier test are purged first."""
    celery_app.control.purge()
    for path in worker.mail_dir.iterdir():
        path.unlink()
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = False
    try:
        yield worker
    finally:
        celery_app.conf.task_always_eager = previous
        if worker.proc is None or worker.proc.poll() is not None:
            worker.start()  # a test that killed it leaves a running one for the next


def sent_mail(worker: Worker) -> list[email.message.Message]:
    """The messages the worker's file-based e-mail backend wrote."""
    messages = []
    for path in sorted(worker.mail_dir.iterdir()):
        raw = path.read_text()
        # One file per connection; messages in it are separated by a line of 79 dashes.
        for part in raw.split("-" * 79 + "\n"):
            if part.strip():
                messages.append(email.message_from_string(part))
    return messages


def pending_voucher(*, reward: Reward, customer, points: int = 0, order=None) -> Voucher:
    """A pending vendor voucher as the flows make them: one unit of stock taken (a movement) and,
    when paid with `points` (the loyalty issue call), those points held. Nothing is enqueued."""
    with transaction.atomic():
        if points:
            points_earn(customer=customer, points=100, reason="test purchase")
        reward_stock_take(
            quantities={reward.pk: 1}, reason=StockMovement.Reason.ISSUE, reference="test"
        )
        voucher = Voucher.objects.create(
            company=reward.company,
            customer=customer,
            reward=reward,
            order=order,
            status=Voucher.Status.PENDING,
            denomination_value=reward.denomination_value,
            points_spent=points,
        )
        if points:
            points_hold(
                customer=customer, points=points, reason="vendor", reference=f"voucher:{voucher.pk}"
            )
    return voucher
