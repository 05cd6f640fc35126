"""The catalog: which models, built how, stored where (see rfzoo/catalog/runner.py)."""
