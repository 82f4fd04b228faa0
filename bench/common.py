"""Shared helpers of the DinoSR benchmarks: configs, timing, GEMM reference, memory, tables.

Timing on a shared machine: every figure is a median over repeats, reported as wall time and,
on CPU, as process CPU time (the work done, less sensitive to other users' load). Device work
is synchronised before each clock read.
"""
from __future__ import annotations

import os
import platform
import re
import shlex
import statistics
import sys
import threading
import time
from contextlib import nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, ContextManager, Optional, Sequence

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

if TYPE_CHECKING:
    from dinosr_espnet.model import DinoSRConfig

SIZES = {"tiny": ROOT / "conf" / "pretrain_tiny.yaml", "base": ROOT / "conf" / "pretrain_base.yaml"}
AMP_DTYPES = {"none": None, "bf16": torch.bfloat16, "fp16": torch.float16}


def recipe_config(size: str) -> dict[str, Any]:
    """The recipe YAML of ``tiny``/``base`` (``conf/pretrain_*.yaml``) or of a YAML path."""
    import yaml

    path = SIZES.get(size, Path(size))
    if not path.is_file():
        raise FileNotFoundError(f"no model config {path} (use tiny, base or a YAML file)")
    return yaml.safe_load(path.read_text()) or {}


def model_config(size: str, **overrides: Any) -> "DinoSRConfig":
    """``tiny``/``base`` (the recipe YAMLs' ``model_conf``) or a YAML path, with overrides.

    The project's imports stay inside, so that a peer's Python (``bench/peers_worker.py``)
    can use the timing helpers of this module without them."""
    from dinosr_espnet.model import DinoSRConfig

    conf = recipe_config(size).get("model_conf", {})
    return DinoSRConfig.from_dict({**conf, **overrides})


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class Timing:
    """Wall and process-CPU seconds of repeated calls; ``median()`` of each."""

    def __init__(self) -> None:
        self.wall: list[float] = []
        self.cpu: list[float] = []

    def add(self, wall: float, cpu: float) -> None:
        self.wall.append(wall)
        self.cpu.append(cpu)

    def median(self) -> tuple[float, float]:
        return statistics.median(self.wall), statistics.median(self.cpu)


def timed(function: Callable[[], Any], device: torch.device) -> tuple[Any, float, float]:
    """``(value, wall seconds, process CPU seconds)`` of one synchronised call."""
    synchronize(device)
    wall, cpu = time.perf_counter(), time.process_time()
    value = function()
    synchronize(device)
    return value, time.perf_counter() - wall, time.process_time() - cpu


def gemm(device: torch.device, n: int = 2048) -> tuple[Callable[[], Any], float]:
    """An fp32 ``n``×``n`` matmul (the machine's reference throughput) and its FLOPs."""
    a = torch.randn(n, n, device=device)
    b = torch.randn(n, n, device=device)
    a @ b
    return (lambda: a @ b), 2.0 * n ** 3


def autocast(device: torch.device, amp: str) -> ContextManager:
    """Autocast context for ``amp`` in ``none``/``bf16``/``fp16``."""
    dtype = AMP_DTYPES[amp]
    if dtype is None:
        return nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


class PeakMemory:
    """Peak memory above the level at entry, in MiB: CUDA allocator peak on a GPU, resident set
    size sampled every millisecond by a thread on CPU (torch's CPU allocator keeps no peak)."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.peak_mib = 0.0
        self._stop = threading.Event()

    @staticmethod
    def _rss() -> int:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    def __enter__(self) -> "PeakMemory":
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            self._base = torch.cuda.memory_allocated(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
        else:
            self._base = self._peak = self._rss()
            self._thread = threading.Thread(target=self._poll, daemon=True)
            self._thread.start()
        return self

    def _poll(self) -> None:
        while not self._stop.wait(0.001):
            self._peak = max(self._peak, self._rss())

    def __exit__(self, *exc: Any) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            peak = torch.cuda.max_memory_allocated(self.device)
        else:
            self._stop.set()
            self._thread.join()
            peak = max(self._peak, self._rss())
        self.peak_mib = (peak - self._base) / 2 ** 20


def state_mib(tensors: Sequence[torch.Tensor]) -> float:
    """MiB held by ``tensors`` (parameters, gradients, optimizer state, buffers)."""
    return sum(t.numel() * t.element_size() for t in tensors) / 2 ** 20


def machine_line(device: torch.device) -> str:
    """One line naming the hardware, torch version, threads and (CPU) load average."""
    if device.type == "cuda":
        what = torch.cuda.get_device_name(device)
    else:
        threads = torch.get_num_threads()
        what = _cpu_name() + f", {threads} torch thread{'s' if threads > 1 else ''}"
        load = os.getloadavg()[0]
        what += f", load average {load:.1f} on {os.cpu_count()} cores"
    return f"{what}; torch {torch.__version__}, Python {platform.python_version()}"


def _cpu_name() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or "CPU"
    match = re.search(r"^model name\s*:\s*(.+)$", text, re.M)
    return match.group(1).strip() if match else "CPU"


def command_line() -> str:
    """The command that produced a report, relative to the repository root."""
    script = Path(sys.argv[0]).resolve()
    try:
        script = script.relative_to(ROOT)
    except ValueError:
        pass
    return shlex.join(["python", str(script), *sys.argv[1:]])


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def update_doc(path: Path, key: str, text: str, title: Optional[str] = None) -> None:
    """Replace the block between ``<!-- key:begin -->`` and ``<!-- key:end -->`` in ``path``
    (created if missing; the block is appended under ``## title`` if absent)."""
    begin, end = f"<!-- {key}:begin -->", f"<!-- {key}:end -->"
    block = f"{begin}\n{text.strip()}\n{end}"
    doc = path.read_text() if path.exists() else "# Benchmarks\n"
    if begin in doc and end in doc:
        head, rest = doc.split(begin, 1)
        doc = head + block + rest.split(end, 1)[1]
    else:
        doc = doc.rstrip() + "\n\n" + (f"## {title}\n\n" if title else "") + block + "\n"
    path.write_text(doc)


def release_freed_memory() -> None:
    """Make glibc return freed blocks of 64 KiB and more to the system at once (``mallopt``),
    so that the resident set size follows live memory and two processes' peaks compare.

    By default glibc raises its mmap threshold after the first large free and then keeps
    freed tensors in the heap, so a process that ran other models first would show a lower
    "peak above entry". Costs a page fault per large allocation: used for memory runs only."""
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    if name is None:
        return
    libc = ctypes.CDLL(name)
    m_trim_threshold, m_mmap_threshold = -1, -3
    libc.mallopt(m_mmap_threshold, 64 * 1024)
    libc.mallopt(m_trim_threshold, 0)
