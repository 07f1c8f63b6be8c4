"""incentive-engine: an event-sourced incentive and commission engine."""

__version__ = "0.1.0"
