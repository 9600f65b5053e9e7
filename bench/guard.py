"""Whether the machine is quiet enough to benchmark: figures taken while other work shares the cores are noise."""

from __future__ import annotations

FORCE_HINT = "wait for it to settle, or measure anyway with --force (make bench BENCH_ARGS=--force)"


def busy_refusal(load: float, cores: int | None) -> str | None:
    """Why a run should not start at this 1-minute load average, or None when the machine is quiet enough.

    Busy means more runnable work than cores (load above the core count): the scenarios would then
    queue behind other processes and their ratios would measure the neighbours. ``os.cpu_count()``
    may not know the count; one core is then assumed, the cautious reading.
    """
    cores = cores or 1
    if load <= cores:
        return None
    return f"The machine is busy: load average {load:.2f} over the last minute on {cores} cores; {FORCE_HINT}."


def busy_note(load: float) -> str:
    """The line a forced run's results carry, so noisy figures never pass for quiet ones."""
    return f"measured on a busy machine (load {load:.2f})"
