"""The catalog build: cache check, isolated workers, failures as data, index, summary.

Each model runs in a worker process (`python -m rfzoo.catalog.worker`) with an address
space limit (RLIMIT_AS) and a wall-clock limit; a worker handles models one at a time
and is replaced after a crash, a timeout, an out-of-memory error, or RECYCLE_AFTER
models (importing torch costs seconds, so workers are reused, but not forever). A model
that raises, hangs or kills its worker is stored as ``failed`` with a one-line reason,
and the build goes on. A finished model is on disk with its cache entry before the next
one is counted, so an interrupted build resumes where it stopped (the models it left out of
memory beside other workers included: it measures them alone). A build holds a lock on
its data directory (rfzoo.catalog.lock): a second build into it is refused.
"""

from __future__ import annotations

import json
import os
import re
import selectors
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from rfzoo.catalog import cache, lock, sources, store
from rfzoo.catalog.coverage import coverage_lines
from rfzoo.catalog.progress import Progress, format_duration
from rfzoo.catalog.sources import ModelRef
from rfzoo.catalog.worker import base_document
from rfzoo.errors import RfzooError

RECYCLE_AFTER = 40
STARTUP_TIMEOUT = 180.0  # importing torch + timm on a cold disk
REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DATA_DIR = REPO_ROOT / "data"


# Address space a worker needs under RLIMIT_AS, measured on Linux x86-64 with torch 2.14 and
# timm 1.0: importing them and analyzing a tiny model fails at 3.25 GB and works at 3.5 GB;
# probing timm/resnet18 fails at 4 GB and works at 6 GB. Below this floor a worker dies on
# import ("libtorch_cpu.so: failed to map segment", a segfault), so the default limit never
# goes under it: the build starts fewer workers instead.
WORKER_FLOOR_GB = 6.0


def usable_ram_gb() -> float:
    """80% of the RAM: the share of the workers, a limit the system OOM killer never beats."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError):
        return 2 * WORKER_FLOOR_GB
    return 0.8 * total / 2**30


def default_memory_gb(jobs: int) -> float:
    """Each of `jobs` workers' share of the usable RAM."""
    return max(WORKER_FLOOR_GB, round(usable_ram_gb() / max(1, jobs), 1))


def worker_count(jobs: int, models: int, memory_gb: float | None) -> tuple[int, str]:
    """How many workers to start for `models` models, and why fewer than --jobs ("" if not).

    With the default memory limit (memory_gb None) each worker's share of the RAM must
    stay above WORKER_FLOOR_GB; an explicit --memory-gb is the user's call.
    """
    count, why = jobs, ""
    if models < count:
        count, why = max(1, models), f"only {models} model{'s' if models != 1 else ''} to build"
    fit = max(1, int(usable_ram_gb() // WORKER_FLOOR_GB))
    if memory_gb is None and fit < count:
        count, why = fit, (f"a worker needs {WORKER_FLOOR_GB:g} GB and {usable_ram_gb():.0f} GB "
                           "(80% of the RAM) are usable; --memory-gb sets the limit per worker")
    return count, why


class BuildError(RfzooError):
    """The build itself cannot go on (as opposed to one model failing)."""


@dataclass
class BuildOptions:
    data_dir: Path = DEFAULT_DATA_DIR
    jobs: int = 1
    timeout: float = 600.0
    memory_gb: float | None = None  # None: default_memory_gb(jobs); 0: no limit
    probe: bool = True
    # full | stages | auto (full for the default catalog's models, stages for the others)
    probe_level: str = "full"
    input_size: list[int] | None = None
    retry_failed: bool = False
    stream: IO[str] | None = None  # progress and summary; stderr by default


@dataclass
class Outcome:
    ref: ModelRef
    status: str
    reason: str
    cached: bool
    seconds: float | None = None


@dataclass
class BuildReport:
    outcomes: list[Outcome] = field(default_factory=list)
    seconds: float = 0.0
    interrupted: bool = False
    probe_failures: list[str] = field(default_factory=list)  # analyzed, but the probe died

    def count(self, **match: Any) -> int:
        return sum(all(getattr(o, k) == v for k, v in match.items()) for o in self.outcomes)

    def summary_lines(self) -> list[str]:
        statuses = Counter(o.status for o in self.outcomes)
        built = self.count(cached=False)
        lines = [
            f"{'interrupted' if self.interrupted else 'done'}: {len(self.outcomes)} models "
            f"(built {built}, cached {len(self.outcomes) - built}) -- "
            f"exact {statuses['exact']}, partial {statuses['partial']}, "
            f"failed {statuses['failed']} in {format_duration(self.seconds)}"
        ]
        rows = [{"source": o.ref.source, "status": o.status, "reason": o.reason}
                for o in self.outcomes]
        lines += coverage_lines(rows, max_reasons=8)
        if self.probe_failures:
            lines.append(
                f"probe failed for {len(self.probe_failures)} (their RFs stand, unverified): "
                f"{', '.join(self.probe_failures)}; retry with --retry-failed (and --jobs 1 when "
                "out of memory)"
            )
        return lines


class Worker:
    """One worker process and the model it is working on."""

    def __init__(self, memory_gb: float, threads: int, log_dir: Path, number: int) -> None:
        self.log_path = log_dir / f"worker-{number}.log"
        self.log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        env = dict(os.environ)
        paths = [str(REPO_ROOT), os.getcwd(), env.get("PYTHONPATH", "")]
        env["PYTHONPATH"] = os.pathsep.join(p for p in paths if p)
        env.setdefault("PYTHONUNBUFFERED", "1")
        cmd = [sys.executable, "-m", "rfzoo.catalog.worker", "--threads", str(threads),
               "--parent", str(os.getpid())]
        if memory_gb:  # 0: no limit
            cmd += ["--memory-gb", str(memory_gb)]
        self.proc = subprocess.Popen(
            cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log, env=env,
            start_new_session=True,  # Ctrl-C reaches the build, which stops its workers
        )
        self.buffer = b""
        self.ready = False
        self.spawned = time.monotonic()
        self.served = 0
        self.job: Job | None = None

    def send(self, job: Job) -> None:
        self.job = job
        job.started = time.monotonic()
        job.log_offset = self.log.tell() if not self.log.closed else 0
        assert self.proc.stdin is not None
        self.proc.stdin.write((json.dumps(job.request) + "\n").encode())
        self.proc.stdin.flush()

    def read_events(self) -> tuple[list[dict[str, Any]], bool]:
        """Events now readable, and whether the worker's stdout closed."""
        assert self.proc.stdout is not None
        chunk = os.read(self.proc.stdout.fileno(), 1 << 16)
        if not chunk:
            return [], True
        self.buffer += chunk
        events = []
        while b"\n" in self.buffer:
            line, self.buffer = self.buffer.split(b"\n", 1)
            if line.strip():
                events.append(json.loads(line))
        return events, False

    def stderr_tail(self, since: int) -> str:
        try:
            with open(self.log_path, "rb") as handle:
                handle.seek(since)
                lines = [ln.strip() for ln in handle.read().decode(errors="replace").splitlines()]
        except OSError:
            return ""
        lines = [ln for ln in lines if ln]
        # faulthandler's dump lists the innermost frame first: that is where it crashed.
        for i, line in enumerate(lines):
            if line.startswith("Fatal Python error"):
                frame = next((ln for ln in lines[i:] if ln.startswith("File ")), "")
                # File "/abs/path/x.py", line 40 in f -> x.py:40 in f (no machine paths)
                where = re.sub(r'File "(?:[^"]*/)?([^"/]+)", line (\d+)', r"\1:\2", frame)
                return f"{line} at {where}"[:300] if frame else line[:300]
        return lines[-1][:200] if lines else ""

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()  # this worker's pid only
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        for pipe in (self.proc.stdin, self.proc.stdout):
            try:
                if pipe:
                    pipe.close()
            except OSError:
                pass
        self.log.close()


@dataclass
class Job:
    ref: ModelRef
    key: str
    request: dict[str, Any]
    step: str = "starting"
    meta: dict[str, Any] = field(default_factory=dict)
    input_size: list[int] | None = None
    started: float = 0.0
    log_offset: int = 0
    saved: bool = False  # the analyzed document is on disk (the probe runs next)


def _crash_reason(worker: Worker, job: Job, killed_by_us: bool) -> str:
    code = worker.proc.poll()
    tail = worker.stderr_tail(job.log_offset)
    if code is not None and code < 0:
        name = signal.Signals(-code).name
        if name == "SIGKILL" and not killed_by_us:
            return (f"worker killed (SIGKILL) while {job.step}: probably the system "
                    "out-of-memory killer; rerun alone with --jobs 1")
        what = f"worker crashed ({name}) while {job.step}"
    else:
        what = f"worker exited (code {code}) while {job.step}"
    return f"{what}; last message: {tail}" if tail else what


_STORED_OUT_OF_MEMORY = re.compile(r"out of memory at the ([0-9.]+) GB per-worker limit")


def _out_of_memory_limit(row: dict[str, Any]) -> float | None:
    """The per-worker limit a stored probe ran out of memory at (`worker.one_line`'s
    words in the row's verify_note), or None."""
    found = _STORED_OUT_OF_MEMORY.search(str(row.get("verify_note") or ""))
    return float(found.group(1)) if found else None


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _stop_on_sigterm() -> Any:
    """A CI cancel (SIGTERM) stops the build like Ctrl-C: workers stopped, index written."""
    import threading

    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGTERM, _interrupt)


class Builder:
    def __init__(self, refs: list[ModelRef], options: BuildOptions) -> None:
        self.refs = sorted(set(refs))
        self.options = options
        self.data_dir = Path(options.data_dir)
        self.stream = options.stream or sys.stderr
        self.want_probe = options.probe
        self._default_refs = frozenset(sources.default_refs()) if options.probe_level == "auto" else frozenset()
        self.report = BuildReport()
        self.workers: list[Worker] = []
        self.spawned = 0
        self.memory_gb = 0.0  # per worker, set by run(); 0: no limit
        # measured again alone at the end (`_alone_again`), with the limit each ran out at:
        # this build's (beside other workers), or a stored one (an earlier build was stopped
        # before its own alone phase)
        self.out_of_memory: list[tuple[Job, float]] = []

    def _plan(self) -> list[Job]:
        jobs = []
        for ref in self.refs:
            key = cache.model_key(ref, self.options.input_size)
            entry = cache.read_entry(self.data_dir, ref)
            fresh = cache.is_fresh(self.data_dir, ref, entry, key, self.probe_level(ref))
            if fresh and entry is not None and not (self.options.retry_failed and self._failed(ref, entry)):
                row = entry.row
                self.report.outcomes.append(
                    Outcome(ref, str(row.get("status")), str(row.get("reason") or ""), True)
                )
                failed_at = _out_of_memory_limit(row)
                if failed_at is not None and self.want_probe:
                    self.out_of_memory.append((self._job(ref, key, entry), failed_at))
                continue
            jobs.append(self._job(ref, key, entry))
        return jobs

    def _job(self, ref: ModelRef, key: str, entry: cache.CacheEntry | None) -> Job:
        request = {
            "source": ref.source,
            "name": ref.name,
            "input_size": self.options.input_size,
            "out": str(store.model_path(self.data_dir, ref).resolve()),
            "probe": self.probe_level(ref),
            # the stored probe ran the same probe code: the worker keeps its results if
            # the new analysis gives the probe the same plan (probe_step.carry_over)
            # (a stored probe failure is never carried into a probe build: --retry-failed
            # measures those again, and only those)
            "previous_probe_key": entry.probe_key if entry is not None
            and cache.same_probe_code(entry.probe_key, self.probe_level(ref)) else None,
        }
        return Job(ref, key, request)

    def probe_level(self, ref: ModelRef) -> str | bool:
        """False (no probe), "full" or "stages" (see rfzoo.catalog.probe_step)."""
        if not self.want_probe:
            return False
        level = self.options.probe_level
        if level == "auto":
            return "full" if ref in self._default_refs else "stages"
        return level

    def _failed(self, ref: ModelRef, entry: cache.CacheEntry) -> bool:
        """The cached model failed, or (on a probe build) its probe did: both are retried
        by --retry-failed, since most such failures depend on --jobs and memory."""
        if entry.row.get("status") == "failed":
            return True
        if not self.want_probe:
            return False
        try:
            return "probe_error" in store.read_json(store.model_path(self.data_dir, ref))
        except (OSError, ValueError):
            return True

    def _threads(self, jobs: int) -> int:
        return max(1, (os.cpu_count() or 1) // jobs)

    def run(self) -> BuildReport:
        with lock.hold_data_dir(self.data_dir):
            if store.repair_index_csv(self.data_dir):
                print("rfzoo: index.csv disagreed with index.json (a build was killed while "
                      "writing them): rewritten from index.json", file=self.stream)
            lock.remove_stale_log_dirs()
            return self._run()

    def _run(self) -> BuildReport:
        start = time.monotonic()
        todo = self._plan()
        jobs, why = worker_count(self.options.jobs, len(todo), self.options.memory_gb)
        if todo and why:
            print(f"rfzoo: --jobs {self.options.jobs} lowered to {jobs}: {why}", file=self.stream)
        self.memory_gb = (default_memory_gb(jobs) if self.options.memory_gb is None
                          else self.options.memory_gb)
        progress = Progress(len(self.refs), len(todo), self.stream)
        for outcome in self.report.outcomes:
            progress.finished(outcome.ref.id, outcome.status, None, cached=True)
        previous = _stop_on_sigterm()
        try:
            if todo or self.out_of_memory:
                with tempfile.TemporaryDirectory(prefix=lock.log_dir_prefix()) as log_dir:
                    self._schedule(todo, jobs, Path(log_dir), progress)
                    self._alone_again(Path(log_dir), progress)
        except KeyboardInterrupt:
            self.report.interrupted = True
        finally:
            for worker in self.workers:
                worker.stop()
            self.workers.clear()
            progress.close()
            self.write_index()
            self.report.seconds = time.monotonic() - start
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)
        return self.report

    def _alone_memory_gb(self) -> float:
        """The memory of all the workers --jobs asks for, for one (0: no limit)."""
        if self.options.memory_gb is None:
            return default_memory_gb(1)
        return self.options.memory_gb * max(1, self.options.jobs)

    def _alone_again(self, log_dir: Path, progress: Progress) -> None:
        """Models that ran out of memory beside other workers, each again alone with the
        memory of them all (a 1B-parameter model's probe needs ~12 GB: more than half of a
        24 GB machine), so `--all --jobs 2` verifies them without a second command; and
        those an earlier build left at a smaller limit, so a resumed build finishes them."""
        alone = self._alone_memory_gb()
        retry = [(job, at) for job, at in self.out_of_memory if at and (alone == 0 or alone > at)]
        self.out_of_memory = []
        if not retry:
            return
        limits = " and ".join(sorted({f"{at:.1f}" for _, at in retry}, key=float))
        earlier = sum(1 for job, _ in retry if not job.started)  # never sent in this build
        progress.note(f"rfzoo: {len(retry)} model(s) ran out of memory at {limits} GB per worker"
                      + (f" ({earlier} in an earlier build)" if earlier else "")
                      + (f": measuring each alone with {alone:.1f} GB" if alone else
                         ": measuring each alone, with no memory limit"))
        again = {job.ref for job, _ in retry}
        self.report.outcomes = [o for o in self.report.outcomes if o.ref not in again]
        self.report.probe_failures = [m for m in self.report.probe_failures
                                      if m not in {r.id for r in again}]
        progress.total += len(retry)
        progress.to_build += len(retry)
        # a replacement worker spawned near the end may still be starting, under the old
        # limit and read by the finished schedule's selector: the new schedule spawns its own
        for worker in list(self.workers):
            self._retire(worker)
        self.memory_gb = alone
        self._schedule([Job(job.ref, job.key, job.request) for job, _ in retry], 1, log_dir, progress)
        self.out_of_memory = []  # once alone is all there is

    def _note_out_of_memory(self, job: Job, why: str) -> None:
        if "out of memory" in why.lower() or "out-of-memory" in why.lower() or "memoryerror" in why.lower():
            self.out_of_memory.append((job, self.memory_gb))

    def write_index(self) -> None:
        rows = cache.current_rows(self.data_dir)
        if rows or (self.data_dir / "index.json").exists():
            store.write_index(self.data_dir, rows)

    # ---- scheduling --------------------------------------------------------------

    def _spawn(self, log_dir: Path, threads: int) -> Worker:
        self.spawned += 1
        worker = Worker(self.memory_gb, threads, log_dir, self.spawned)
        self.workers.append(worker)
        return worker

    def _retire(self, worker: Worker) -> None:
        worker.stop()
        self.workers.remove(worker)

    def _schedule(self, todo: list[Job], jobs: int, log_dir: Path, progress: Progress) -> None:
        threads = self._threads(jobs)
        queue = list(todo)
        selector = selectors.DefaultSelector()
        try:
            while queue or any(w.job for w in self.workers):
                while len(self.workers) < jobs and queue:
                    worker = self._spawn(log_dir, threads)
                    assert worker.proc.stdout is not None
                    selector.register(worker.proc.stdout, selectors.EVENT_READ, worker)
                for worker in self.workers:
                    if worker.ready and worker.job is None and queue:
                        job = queue.pop(0)
                        worker.send(job)
                        progress.started(job.ref.id)
                timeout = self._next_deadline()
                for key, _ in selector.select(timeout=timeout):
                    worker = key.data
                    events, closed = worker.read_events()
                    for event in events:
                        self._on_event(worker, event, progress)
                    if closed:
                        selector.unregister(key.fileobj)
                        self._on_exit(worker, progress, killed_by_us=False, queue=queue)
                self._check_deadlines(selector, progress, queue)
                for worker in list(self.workers):
                    idle = worker.ready and worker.job is None
                    if idle and (worker.served >= RECYCLE_AFTER or not queue):
                        self._unregister(selector, worker)
                        self._retire(worker)
        finally:
            selector.close()

    def _next_deadline(self) -> float:
        now = time.monotonic()
        waits = [1.0]
        for worker in self.workers:
            if worker.job is not None:
                waits.append(worker.job.started + self.options.timeout - now)
            elif not worker.ready:
                waits.append(worker.spawned + STARTUP_TIMEOUT - now)
        return max(0.05, min(waits))

    def _check_deadlines(self, selector: selectors.BaseSelector, progress: Progress,
                         queue: list[Job]) -> None:
        now = time.monotonic()
        for worker in list(self.workers):
            job = worker.job
            if job is not None and now - job.started > self.options.timeout:
                reason = (f"timed out after {self.options.timeout:g} s while {job.step}; "
                          f"rerun with a larger --timeout")
                self._unregister(selector, worker)
                self._retire(worker)
                self._record_failure(job, reason, progress, cacheable=False)
            elif job is None and not worker.ready and now - worker.spawned > STARTUP_TIMEOUT:
                self._unregister(selector, worker)
                self._retire(worker)
                raise BuildError(f"a worker did not start within {STARTUP_TIMEOUT:g} s; "
                                   f"see {worker.log_path}")

    @staticmethod
    def _unregister(selector: selectors.BaseSelector, worker: Worker) -> None:
        try:
            selector.unregister(worker.proc.stdout)  # type: ignore[arg-type]
        except (KeyError, ValueError):
            pass

    def _on_event(self, worker: Worker, event: dict[str, Any], progress: Progress) -> None:
        kind = event.get("event")
        job = worker.job
        if kind == "ready":
            worker.ready = True
        elif job is None:
            return
        elif kind == "step":
            job.step = str(event.get("step"))
        elif kind == "saved":
            job.saved = True
        elif kind == "meta":
            job.meta = dict(event.get("meta") or {})
            job.input_size = event.get("input_size")
        elif kind == "done":
            row = event["row"]
            if event.get("recycle") and row.get("status") != "failed":  # analyzed; the probe failed
                self.report.probe_failures.append(job.ref.id)
            cache.write_entry(self.data_dir, job.ref,
                              cache.CacheEntry(job.key, event.get("probe_key"), row))
            self._note_out_of_memory(job, f"{row.get('reason') or ''} {row.get('verify_note') or ''}")
            seconds = float(event.get("seconds") or 0.0)
            outcome = Outcome(job.ref, str(row["status"]), str(row["reason"]), False, seconds)
            self.report.outcomes.append(outcome)
            progress.finished(job.ref.id, outcome.status, seconds, cached=False)
            worker.job = None
            worker.served += 1
            if event.get("recycle"):
                worker.served = RECYCLE_AFTER  # memory may be fragmented: start fresh

    def _on_exit(self, worker: Worker, progress: Progress, killed_by_us: bool,
                 queue: list[Job]) -> None:
        job = worker.job
        try:
            worker.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        if job is None and not worker.ready:
            tail = worker.stderr_tail(0)
            self._retire(worker)
            raise BuildError(f"a worker failed to start: {tail or 'no message'}")
        self._retire(worker)
        if job is not None:
            self._record_failure(job, _crash_reason(worker, job, killed_by_us), progress)

    def _record_failure(self, job: Job, reason: str, progress: Progress,
                        cacheable: bool = True) -> None:
        """A document for a model whose worker died: what was known, and why.

        When the analysis was saved before the probe, the analysis stands and the
        probe's failure is noted on it (--retry-failed retries the probe). A model that
        failed for a reason that is not its own (a timeout: the machine may be busy) is
        indexed for this build but not cached, so the next build tries it again.
        """
        path = store.model_path(self.data_dir, job.ref)
        doc = None
        if job.saved:
            try:
                doc = store.read_json(path)
                cache.note_probe_error(doc, reason)
                self.report.probe_failures.append(job.ref.id)
            except (OSError, ValueError):
                doc = None
        if doc is None:
            doc = base_document(job.ref, job.meta, job.input_size, "failed", reason)
        store.write_json(path, doc)
        row = store.index_row(doc)
        probe_key = cache.probe_key(self.probe_level(job.ref))
        key = job.key if cacheable or doc["status"] != "failed" else cache.RETRY_KEY
        cache.write_entry(self.data_dir, job.ref, cache.CacheEntry(key, probe_key, row))
        seconds = time.monotonic() - job.started
        status, why = str(doc["status"]), str(doc["reason"])
        self._note_out_of_memory(job, reason)
        self.report.outcomes.append(Outcome(job.ref, status, why, False, seconds))
        progress.finished(job.ref.id, status, seconds, cached=False)


def build(refs: list[ModelRef], options: BuildOptions) -> BuildReport:
    return Builder(refs, options).run()
