"""Peak GPU memory of a process and all its descendants, sampled through NVML in a thread.

`accelerate launch` starts the real trainer as a child (and data-loader workers below it), so
the pid we started is rarely the one holding GPU memory: we sum every process of the tree on
every device at each sample and keep the largest sum. Given several pids (two Wan 2.2 experts
training at once), the sum covers all their trees: the peak the card held with both loaded.
Without NVML or a GPU the peak is None.
"""

from __future__ import annotations

import threading
from pathlib import Path
from types import TracebackType
from typing import Any, Sequence


def descendants(root_pid: int) -> set[int]:
    """The pid and all its descendants, from /proc (no psutil)."""
    found = {root_pid}
    frontier = [root_pid]
    children_known = Path(f"/proc/{root_pid}/task").exists()
    parents: dict[int, list[int]] | None = None
    while frontier:
        pid = frontier.pop()
        kids: list[int] = []
        if children_known:
            for task in Path(f"/proc/{pid}/task").glob("*"):
                try:
                    kids += [int(k) for k in (task / "children").read_text().split()]
                except (OSError, ValueError):
                    continue
        if not kids:
            # Kernels without CONFIG_PROC_CHILDREN: fall back to the parent pid of every process.
            if parents is None:
                parents = _parent_map()
            kids = parents.get(pid, [])
        for kid in kids:
            if kid not in found:
                found.add(kid)
                frontier.append(kid)
    return found


def _parent_map() -> dict[int, list[int]]:
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_bytes()
            ppid = int(stat.rsplit(b")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        parents.setdefault(ppid, []).append(int(entry.name))
    return parents


class VramSampler:
    """`with VramSampler(pid) as s: ...` then `s.peak_bytes` (None when nothing could be measured)."""

    def __init__(self, root_pid: int | Sequence[int], interval_s: float = 0.5) -> None:
        self.root_pids = [root_pid] if isinstance(root_pid, int) else list(root_pid)
        self.root_pid = self.root_pids[0]
        self.interval_s = interval_s
        self.peak_bytes: int | None = None
        self.samples = 0
        self.error: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._nvml: Any = None
        self._handles: list[Any] = []

    @property
    def peak_gb(self) -> float | None:
        return None if self.peak_bytes is None else round(self.peak_bytes / 1e9, 2)

    def _init_nvml(self) -> bool:
        try:
            import pynvml  # nvidia-ml-py, lazy: absent GPUs are normal

            pynvml.nvmlInit()
            self._nvml = pynvml
            self._handles = [pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(pynvml.nvmlDeviceGetCount())]
            return True
        except Exception as exc:  # noqa: BLE001 - no driver / no library: no measurement, not a crash
            self.error = f"NVML unavailable: {exc.__class__.__name__}"
            return False

    def sample_once(self) -> int | None:
        """GPU memory used now by the tree, summed over all devices."""
        if self._nvml is None:
            return None
        tree = set().union(*(descendants(pid) for pid in self.root_pids))
        total = 0
        for handle in self._handles:
            used_by_pid: dict[int, int] = {}
            for getter in ("nvmlDeviceGetComputeRunningProcesses", "nvmlDeviceGetGraphicsRunningProcesses"):
                try:
                    procs = getattr(self._nvml, getter)(handle)
                except Exception:  # noqa: BLE001 - a device that cannot be queried adds nothing
                    continue
                for proc in procs:
                    used = getattr(proc, "usedGpuMemory", None)
                    if proc.pid in tree and isinstance(used, int):
                        # A process can be listed as both compute and graphics: count it once.
                        used_by_pid[proc.pid] = max(used_by_pid.get(proc.pid, 0), used)
            total += sum(used_by_pid.values())
        return total

    def _run(self) -> None:
        while not self._stop.is_set():
            value = self.sample_once()
            if value is not None:
                self.samples += 1
                if value > 0:
                    self.peak_bytes = max(self.peak_bytes or 0, value)
            self._stop.wait(self.interval_s)

    def start(self) -> "VramSampler":
        if self._init_nvml():
            self._thread = threading.Thread(target=self._run, name=f"vram-sampler-{self.root_pid}", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> int | None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._nvml is not None:
            try:
                self._nvml.nvmlShutdown()
            except Exception:  # noqa: BLE001
                pass
            self._nvml = None
        return self.peak_bytes

    def __enter__(self) -> "VramSampler":
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()


def visible_gpu_count() -> int:
    """How many GPUs NVML sees (0 without a driver)."""
    try:
        import pynvml

        pynvml.nvmlInit()
        try:
            return int(pynvml.nvmlDeviceGetCount())
        finally:
            pynvml.nvmlShutdown()
    except Exception:  # noqa: BLE001
        return 0


def gpu_total_gb(index: int = 0) -> float | None:
    """Total memory of one GPU in GB, or None without one."""
    try:
        import pynvml

        pynvml.nvmlInit()
        try:
            return round(pynvml.nvmlDeviceGetMemoryInfo(pynvml.nvmlDeviceGetHandleByIndex(index)).total / 1e9, 2)
        finally:
            pynvml.nvmlShutdown()
    except Exception:  # noqa: BLE001
        return None
