"""ARR lease governor: budgets and leases for Azure Remote Rendering sessions.

`__version__` is the app's version, reported by /api/health and the OpenAPI document. It lives
here because this file ships and pyproject.toml does not (.funcignore); pyproject.toml's
`[project] version` states the same, and tests/unit/test_version.py keeps the two equal.
"""

__version__ = "0.1.0"
