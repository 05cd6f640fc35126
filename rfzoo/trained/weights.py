"""Load a model with its library's own pretrained weights, through the library's own loader.

* timm: ``timm.create_model(name, pretrained=True)``, which downloads through
  huggingface_hub (``HF_ENDPOINT`` points it at a mirror) or, for the few models without a
  hub repo, through torch.hub;
* torchvision: the builder with ``get_model_weights(name).DEFAULT``, which downloads through
  ``torch.hub.load_state_dict_from_url`` into ``$TORCH_HOME/hub/checkpoints``. With
  ``RFZOO_TORCHVISION_MIRROR=URL`` set, the file is first fetched by torch.hub's own
  ``download_url_to_file`` from URL in place of ``https://download.pytorch.org/`` into that
  same cache, so the builder then loads it as if it had downloaded it (its own key fixes and
  settings still run). The sha256 prefix in the file name is checked as torchvision checks it;
  ``RFZOO_TORCHVISION_MIRROR_CHECK_HASH=0`` skips that for a mirror of re-saved files.

Any failure is a `WeightsUnavailable` naming the model and where the weights were sought.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from torch import nn

from rfzoo.errors import RfzooError
from rfzoo.models import ModelSpec

TORCHVISION_PREFIX = "https://download.pytorch.org/"
MIRROR_ENV = "RFZOO_TORCHVISION_MIRROR"
MIRROR_HASH_ENV = "RFZOO_TORCHVISION_MIRROR_CHECK_HASH"


class WeightsUnavailable(RfzooError):
    """The library's pretrained weights cannot be found, downloaded or loaded."""


@dataclass
class Pretrained:
    model: nn.Module  # on the CPU, eval mode; a task model's analyzed part (detection: backbone)
    weights_id: str  # timm's "architecture.tag", torchvision's "ResNet18_Weights.IMAGENET1K_V1"
    origin: str  # where the weights came from: a hub repo or a URL


def load_pretrained(spec: ModelSpec) -> Pretrained:
    if spec.source == "timm":
        return _timm(spec)
    if spec.source == "torchvision":
        return _torchvision(spec)
    raise WeightsUnavailable(f"{spec.full_name} has no library weights: give a state dict with --weights FILE")


def _timm(spec: ModelSpec) -> Pretrained:
    import timm

    cfg = timm.models.get_pretrained_cfg(spec.name)
    if cfg is None or not (cfg.hf_hub_id or cfg.url):
        raise WeightsUnavailable(f"timm has no pretrained weights for {spec.full_name}")
    if cfg.hf_hub_id:
        from huggingface_hub import constants

        origin = f"{constants.ENDPOINT}/{cfg.hf_hub_id}"
    else:
        origin = str(cfg.url)
    try:
        model = timm.create_model(spec.name, pretrained=True)
    except Exception as err:  # noqa: BLE001 - network, hub and file errors all mean "unavailable"
        raise WeightsUnavailable(f"cannot load pretrained weights of {spec.full_name} from {origin}: "
                                 f"{_one_line(err)}") from None
    weights_id = f"{cfg.architecture}.{cfg.tag}" if cfg.tag else str(cfg.architecture)
    return Pretrained(model.to("cpu").eval(), weights_id, origin)


def _torchvision(spec: ModelSpec) -> Pretrained:
    import torchvision

    from rfzoo.models import _TASK_PARTS, _torchvision_task_module

    try:
        weights = torchvision.models.get_model_weights(spec.name).DEFAULT
    except (ValueError, KeyError, AttributeError):
        raise WeightsUnavailable(f"torchvision has no pretrained weights for {spec.full_name}") from None
    url = str(weights.url)
    mirror = os.environ.get(MIRROR_ENV, "").strip()
    origin = _fetch_from_mirror(spec, url, mirror) if mirror else url
    try:
        model = torchvision.models.get_model_builder(spec.name)(weights=weights)
    except Exception as err:  # noqa: BLE001 - network, hash and file errors all mean "unavailable"
        raise WeightsUnavailable(f"cannot load pretrained weights of {spec.full_name} from {origin}: "
                                 f"{_one_line(err)}") from None
    part = _TASK_PARTS.get(_torchvision_task_module(spec.name))
    if part is not None:
        model = getattr(model, part[0])
    return Pretrained(model.to("cpu").eval(), repr(weights), origin)


def mirrored_url(url: str, mirror: str) -> str:
    """`url` with its https://download.pytorch.org/ prefix replaced by `mirror`."""
    if not url.startswith(TORCHVISION_PREFIX):
        raise WeightsUnavailable(f"{MIRROR_ENV} mirrors {TORCHVISION_PREFIX} only, not {url}")
    return mirror.rstrip("/") + "/" + url[len(TORCHVISION_PREFIX):]


def _fetch_from_mirror(spec: ModelSpec, url: str, mirror: str) -> str:
    """Put the weights file where torch.hub caches `url`, fetched from the mirror; the mirror URL."""
    import torch.hub

    source = mirrored_url(url, mirror)
    name = os.path.basename(urlparse(url).path)
    cached = Path(torch.hub.get_dir()) / "checkpoints" / name
    if cached.is_file():
        return source
    check = os.environ.get(MIRROR_HASH_ENV, "1").strip() not in ("0", "false", "no")
    found = re.search(torch.hub.HASH_REGEX, name) if check else None
    cached.parent.mkdir(parents=True, exist_ok=True)
    try:
        torch.hub.download_url_to_file(source, str(cached), found.group(1) if found else None, progress=False)
    except Exception as err:  # noqa: BLE001 - network and hash errors all mean "unavailable"
        raise WeightsUnavailable(f"cannot load pretrained weights of {spec.full_name} from {source}: "
                                 f"{_one_line(err)}") from None
    return source


def _one_line(err: BaseException) -> str:
    lines = [line.strip() for line in str(err).strip().splitlines() if line.strip()]
    text = f"{type(err).__name__}: {lines[0]}" if lines else type(err).__name__
    return text[:300]
