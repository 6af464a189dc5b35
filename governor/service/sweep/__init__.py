"""The sweep use case: `Sweeper.run`, configured by `SweepConfig` (see run.py for its steps)."""

from governor.service.sweep.run import SweepConfig, Sweeper

__all__ = ["SweepConfig", "Sweeper"]
