"""The usage dashboard: chart data from ledger, usage and audit values, rendered server-side
as one self-contained HTML page with inline SVG (no script, no CDN).

`data` and `render` are pure; `collect` reads through the store ports handed to it.
"""
