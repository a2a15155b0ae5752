"""The inbox pipeline: files are read in the watch loop's thread and stored by a worker thread.

While the worker stores one batch (encoding, writing and fsyncing files, committing the index),
the loop goes on folding events and reading the files that became complete meanwhile; when the
worker is done, it takes *everything* read since its last round into its next
``store_instances`` call (up to ``max_count`` instances and ``max_bytes`` bytes), so that a burst
of files shares the fsyncs and the index transaction of a few calls instead of queueing up.

Guarantees kept from the single-threaded design:

* a file is deleted from the inbox only after the store acknowledged its instance (durably
  stored), and only if it did not change since it was read;
* a file is never in two batches at once: a file found complete again while its previous attempt
  is in flight is looked at once that attempt is over (exactly once);
* all of :class:`~dicomfs.watch.sync.WatchState` is touched by the loop's thread only: the worker
  hands back its retries, which :meth:`InboxPipeline.collect` folds in;
* :meth:`InboxPipeline.close` lets the batch in progress finish (store, then remove) and joins
  the worker; files read but not stored yet stay in the inbox, for the next start.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable

from dicomfs.watch.changes import WatchEvent
from dicomfs.watch.ingest import Candidate, Inbox
from dicomfs.watch.sync import FileStat, Pending, Plan, WatchState

__all__ = ["DEFAULT_MAX_BYTES", "DEFAULT_MAX_COUNT", "InboxPipeline", "StoreWorker"]

#: Most instances in one ``store_instances`` call.
DEFAULT_MAX_COUNT = 1000
#: Most bytes of files in one ``store_instances`` call, and read ahead of the worker.
DEFAULT_MAX_BYTES = 256 * 1024 * 1024

_Retry = tuple[str, FileStat, float]


class StoreWorker:
    """A thread storing, in batches, the candidates the loop's thread submits.

    Parameters
    ----------
    inbox: Inbox
        Stores the batches (:meth:`Inbox.store`).
    report: callable
        Called (in the worker's thread) with the events of each batch once it is done.
    max_count, max_bytes: int
        Most instances and bytes in one batch.
    """

    def __init__(
        self,
        inbox: Inbox,
        report: Callable[[WatchEvent], None],
        *,
        max_count: int = DEFAULT_MAX_COUNT,
        max_bytes: int = DEFAULT_MAX_BYTES,
    ) -> None:
        if max_count < 1 or max_bytes < 1:
            raise ValueError(f"max_count and max_bytes must be >= 1, got {max_count}, {max_bytes}")
        self.inbox = inbox
        self.report = report
        self.max_count = max_count
        self.max_bytes = max_bytes
        self._cond = threading.Condition()
        self._queue: deque[Candidate] = deque()
        self._queued_bytes = 0
        self._finished: list[str] = []
        self._retries: list[_Retry] = []
        self._closing = False
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None

    def submit(self, candidate: Candidate) -> None:
        """Queue a candidate for the next batch (starts the thread on first use).

        Raises
        ------
        RuntimeError
            The worker was closed.
        BaseException
            What the worker's thread raised (it stopped then).
        """
        with self._cond:
            if self._error is not None:
                raise self._error
            if self._closing:
                raise RuntimeError("the store worker is closed")
            self._queue.append(candidate)
            self._queued_bytes += candidate.stat.size
            if self._thread is None:
                # A daemon, so that a handler never closed cannot keep the process alive;
                # close() joins it (run() always does).
                self._thread = threading.Thread(
                    target=self._main, name="dicomfs-watch-store", daemon=True
                )
                self._thread.start()
            self._cond.notify()

    def has_room(self) -> bool:
        """Whether less than ``max_bytes`` bytes wait to be stored (else read no more now)."""
        with self._cond:
            return self._queued_bytes < self.max_bytes

    def collect(self) -> tuple[list[str], list[_Retry]]:
        """Hand over what the worker did since the last call.

        Returns
        -------
        (list of str, list of (str, FileStat, float))
            The files whose attempt is over (stored, rejected or to retry), and the retries
            asked for: ``(relpath, stat, delay)``.

        Raises
        ------
        BaseException
            What the worker's thread raised (it stopped then).
        """
        with self._cond:
            if self._error is not None:
                error, self._error = self._error, None
                raise error
            finished, self._finished = self._finished, []
            retries, self._retries = self._retries, []
        return finished, retries

    def close(self) -> None:
        """Finish the batch in progress, drop the queued candidates, and join the thread.

        Raises
        ------
        BaseException
            What the worker's thread raised, if :meth:`collect` did not hand it over yet.
        """
        with self._cond:
            self._closing = True
            self._queue.clear()
            self._queued_bytes = 0
            self._cond.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join()
        with self._cond:
            error, self._error = self._error, None
        if error is not None:
            raise error

    def _take(self) -> list[Candidate] | None:
        with self._cond:
            while not self._queue and not self._closing:
                self._cond.wait()
            if self._closing:
                return None
            batch: list[Candidate] = []
            size = 0
            while self._queue and len(batch) < self.max_count:
                candidate = self._queue[0]
                if batch and size + candidate.stat.size > self.max_bytes:
                    break
                self._queue.popleft()
                batch.append(candidate)
                size += candidate.stat.size
            self._queued_bytes -= size
            return batch

    def _main(self) -> None:
        retries: list[_Retry] = []

        def retry(relpath: str, stat: FileStat, delay: float) -> None:
            retries.append((relpath, stat, delay))

        while True:
            batch = self._take()
            if batch is None:
                return
            try:
                events = self.inbox.store(batch, retry)
                with self._cond:  # handed over before reported: a report can be waited for
                    self._finished.extend(c.relpath for c in batch)
                    self._retries.extend(retries)
                retries = []
                for event in events:
                    self.report(event)
            except BaseException as exc:  # handed to the loop's thread by collect()
                with self._cond:
                    self._error = exc
                    self._closing = True
                    self._queue.clear()
                    self._queued_bytes = 0
                return


class InboxPipeline:
    """The loop's side of the inbox: read complete files, hand them to a :class:`StoreWorker`.

    Parameters
    ----------
    inbox: Inbox
        Reads, stores, removes and rejects files.
    report: callable, optional
        Called with each :class:`WatchEvent` (from the loop's thread or the worker's, never
        both at once).
    max_count, max_bytes: int
        Most instances and bytes in one ``store_instances`` call.
    """

    def __init__(
        self,
        inbox: Inbox,
        report: Callable[[WatchEvent], None] | None = None,
        *,
        max_count: int = DEFAULT_MAX_COUNT,
        max_bytes: int = DEFAULT_MAX_BYTES,
    ) -> None:
        self.inbox = inbox
        self._report_to = report or (lambda event: None)
        self._report_lock = threading.Lock()
        self.worker = StoreWorker(inbox, self._report, max_count=max_count, max_bytes=max_bytes)
        self._busy: set[str] = set()
        self._again: dict[str, FileStat] = {}

    def _report(self, event: WatchEvent) -> None:
        with self._report_lock:
            self._report_to(event)

    def apply(self, plan: Plan, state: WatchState, now: float) -> None:
        """Read the complete files of a plan and queue them for the worker.

        Parameters
        ----------
        plan: Plan
            From :func:`dicomfs.watch.sync.reconcile`.
        state: WatchState
            Where files to see again are put back.
        now: float
            The clock of ``state``.
        """

        def retry(relpath: str, stat: FileStat, delay: float) -> None:
            state.retry(relpath, stat, now, delay)

        for relpath in plan.ready:
            if relpath in self._busy or not self.worker.has_room():
                stat = self.inbox.fs.stat(relpath)
                if stat is None:
                    continue
                if relpath in self._busy:
                    self._again[relpath] = stat  # complete again while in flight: see it after
                else:  # enough read ahead: still complete, read it on a later round
                    retry(relpath, stat, self.inbox.retry_delay)
                continue
            event, candidate = self.inbox.read(relpath, retry)
            if event is not None:
                self._report(event)
            if candidate is not None:
                self._busy.add(relpath)
                self.worker.submit(candidate)

    def collect(self, state: WatchState, now: float) -> None:
        """Fold the worker's finished attempts and retries into ``state`` (the loop's thread).

        Raises
        ------
        BaseException
            What the worker raised (an unexpected failure of the store).
        """
        finished, retries = self.worker.collect()
        self._busy.difference_update(finished)
        for relpath in finished:
            seen = self._again.pop(relpath, None)
            if seen is None or relpath in state.pending:
                continue
            current = self.inbox.fs.stat(relpath)
            if current is None:
                continue  # stored and removed, or rejected
            if current == seen:
                state.retry(relpath, current, now, 0.0)  # it was complete as it is now
            else:
                state.pending[relpath] = Pending(current, now)  # must complete again
        for relpath, stat, delay in retries:
            pending = state.pending.get(relpath)
            if pending is None:
                state.retry(relpath, stat, now, delay)
            else:  # events came since the worker looked: they are more recent than its stat
                pending.not_before = max(pending.not_before, now + delay)

    def close(self) -> None:
        """Let the batch in progress finish and join the worker (the pipeline can be reused).

        Raises
        ------
        BaseException
            What the worker raised, if :meth:`collect` did not hand it over yet.
        """
        worker = self.worker
        self.worker = StoreWorker(
            self.inbox, self._report, max_count=worker.max_count, max_bytes=worker.max_bytes
        )
        self._busy.clear()
        self._again.clear()
        worker.close()
