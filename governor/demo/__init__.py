"""`python -m governor demo` (what `make demo` calls): about a minute of the governor at work.

Built on the first version by the local-host engineer (then governor/localhost/demo.py).
`scenario.py` drives the story through the HTTP API, `narrate.py` turns the governor's audit rows
into timeline lines, `report.py` prints the usage report and the outcome checklist, `cli.py`
starts a stack of its own (or attaches to a running `make run` with --url).
"""
