"""The file name of a catalog model: one function for the store and the site.

The store writes ``models/<source>/<stem>.json`` and ``cache/<source>/<stem>.json``; the
site publishes ``models/<source>/<stem>.md`` (and the curve ``compare/curves/<source>/<stem>.json``).
A stem is safe as a file name and in a URL: letters, digits, ``_``, ``-`` and (library
names only) ``.``.

torchvision and timm names are such stems already and stay as they are, so the committed
data keeps its paths. A user model's name is a reference such as ``a/x/m.py:F``: its stem
is a readable slug of the reference's last part plus a short hash of the whole reference,
so references that flatten alike (``a/x/m.py:F`` and ``a/x_m.py:F``) never share a file.
"""

from __future__ import annotations

import hashlib
import re

_LIBRARY_STEM = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,149}")
_NOT_SLUG = re.compile(r"[^A-Za-z0-9]+")
SLUG_CHARS = 60
HASH_CHARS = 10  # 40 bits: no collision among any number of models one person builds


def model_stem(source: str, name: str) -> str:
    """`resnet50` for torchvision/resnet50; `m_py_F-<hash>` for the user model `a/x/m.py:F`."""
    if source != "user" and _LIBRARY_STEM.fullmatch(name) and not name.endswith("."):
        return name
    last_part = name.replace("\\", "/").rsplit("/", 1)[-1]  # m.py:F, or pkg.mod:F
    slug = _NOT_SLUG.sub("_", last_part).strip("_")[:SLUG_CHARS] or "model"
    digest = hashlib.sha256(f"{source}/{name}".encode()).hexdigest()[:HASH_CHARS]
    return f"{slug}-{digest}"


def model_file(source: str, name: str, suffix: str) -> str:
    """`<source>/<stem><suffix>`: a model's path under models/, cache/ or the site's folders."""
    return f"{source}/{model_stem(source, name)}{suffix}"
