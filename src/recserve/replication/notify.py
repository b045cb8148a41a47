"""Champion-changed notifications between API replicas over Redis pub/sub.

The replica that promotes, rolls back or finishes a training job publishes on
``<prefix>:champions``; every replica (itself included) has a subscriber thread that calls
``engine.refresh()`` on each message, so all of them serve the new champion within a round
trip. The message carries nothing the receivers trust: they re-read the shared registry.

When Redis is down the thread logs once, retries with a growing pause and refreshes after
reconnecting (a message may have been missed); meanwhile the champion poller, when
enabled, keeps replicas in step on its own schedule.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable

from recserve.replication.link import REDIS_ERRORS, RedisLink

log = logging.getLogger("recserve.replication")

CHANNEL = "champions"
MAX_PAUSE_SECONDS = 5.0


class ChampionChannel:
    """Publishes champion changes and, once started, refreshes on each one received."""

    def __init__(self, link: RedisLink, refresh: Callable[[], object]):
        self.link = link
        self.refresh = refresh
        self.channel = link.key(CHANNEL)
        self.received = 0  # messages handled (tests, status)
        self.connected = threading.Event()  # set while subscribed
        self._stop = threading.Event()
        self._pause = 0.2  # before the next reconnection attempt; grows while Redis is down
        self._reported = False  # the outage was logged
        self._thread: threading.Thread | None = None

    def publish(self) -> bool:
        """Tell every replica to refresh; False (logged) when Redis cannot be reached."""
        try:
            self.link.client.publish(self.channel, str(os.getpid()))
            return True
        except REDIS_ERRORS as exc:
            log.warning("could not publish a champion change (replicas poll instead): %s", exc)
            return False

    def start(self) -> None:
        """Subscribe in a daemon thread (again after ``stop``: an app's lifespan may rerun)."""
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._run, name="recserve-champion-subscriber", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._listen()
            except REDIS_ERRORS as exc:
                self.connected.clear()
                if not self._reported:
                    log.warning(
                        "champion notifications unavailable (%r): %s; retrying", self.link, exc
                    )
                    self._reported = True
            except Exception:  # never let the thread die: the poller alone would remain
                self.connected.clear()
                log.exception("champion notifications failed; retrying")
            self._stop.wait(self._pause)
            self._pause = min(self._pause * 2, MAX_PAUSE_SECONDS)

    def _listen(self) -> None:
        client = self.link.pubsub_client()
        pubsub = client.pubsub(ignore_subscribe_messages=True)
        try:
            pubsub.subscribe(self.channel)
            self.connected.set()
            if self._reported:
                log.info("champion notifications restored on %s", self.channel)
            self._pause, self._reported = 0.2, False
            self._refresh()  # anything promoted while this replica was not subscribed
            while not self._stop.is_set():
                message = pubsub.get_message(timeout=0.5)
                if message is not None and message.get("type") == "message":
                    self.received += 1
                    self._refresh()
        finally:
            self.connected.clear()
            pubsub.close()
            client.close()

    def _refresh(self) -> None:
        try:
            swapped = self.refresh()
            if swapped:
                log.info("champion change received: now serving new models for %s", swapped)
        except Exception:  # the current champions keep serving
            log.exception("refreshing champions after a notification failed")
