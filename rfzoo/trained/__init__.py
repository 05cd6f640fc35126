"""Effective receptive fields of trained weights (issue #16): the libraries' own pretrained
weights, real photographs through the model's own preprocessing, and the catalog's trained-ERF
files (``data/trained/<source>/<stem>.json.gz``).

Kept apart from `rfzoo.probe` on purpose: the catalog's cache keys hash the probe's code, and
nothing here changes what the catalog build computes.
"""
