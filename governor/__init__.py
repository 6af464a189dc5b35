"""ARR lease governor: budgets and leases for Azure Remote Rendering sessions."""

__version__ = "0.1.0"
