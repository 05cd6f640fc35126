"""The reference site: turns the catalog's JSON into mkdocs pages and chart data.

Nothing here imports torch: the site builds from stored data only. `hooks.py` is the
mkdocs entry point; the other modules each generate one kind of page or chart.
"""
