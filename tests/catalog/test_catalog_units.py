"""Unit tests of the catalog's pieces: storage format, keys, shards, tasks, stages, reasons."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rfzoo.catalog import cache, metadata, sources, store
from rfzoo.catalog.coverage import coverage_lines, reason_class, verification_lines
from rfzoo.catalog.sources import ModelRef
from rfzoo.errors import UnknownModelError
from rfzoo.schema import INDEX_COLUMNS


def test_dumps_is_stable_and_valid_json() -> None:
    doc = {"b": [{"y": 1.0, "x": 0.123456}], "a": (1, 2), "n": None, "f": float("nan")}
    text = store.dumps(doc)
    assert text == store.dumps(dict(reversed(list(doc.items()))))
    assert json.loads(text) == {"a": [1, 2], "b": [{"x": 0.1235, "y": 1}], "f": None, "n": None}
    assert text.endswith("}\n") and '\n  {"x":0.1235,"y":1}\n' in text  # one line per layer


def test_atomic_write_replaces_and_leaves_no_temporary(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "x.json"
    store.write_json(path, {"a": 1})
    store.write_json(path, {"a": 2})
    assert store.read_json(path) == {"a": 2}
    assert [p.name for p in path.parent.iterdir()] == ["x.json"]
    assert path.stat().st_mode & 0o777 == 0o644


def test_index_row_and_csv() -> None:
    doc = {"source": "timm", "name": "m", "family": "f", "task": "classification",
           "input_size": [224, 224], "params": 10, "status": "exact", "reason": "",
           "summary": {"rf": [427, 427], "jump": [32, 32]},
           "verification": {"verified": True}}
    row = store.index_row(doc)
    assert tuple(row) == INDEX_COLUMNS
    assert row["rf_ratio"] == 1.9062 and row["verified"] is True
    failed = store.index_row({"source": "timm", "name": "z", "status": "failed", "reason": "x"})
    assert failed["rf"] is None and failed["verified"] is None
    lines = store.index_csv([row, failed]).splitlines()
    assert lines[0] == ",".join(INDEX_COLUMNS)
    assert lines[1] == "timm,m,f,classification,224x224,427x427,32x32,1.9062,,,10,exact,,true,"
    assert lines[2] == "timm,z,,,,,,,,,,failed,x,,"


def test_shards_partition_the_list_deterministically() -> None:
    refs = [ModelRef("timm", f"m{i}") for i in range(11)]
    parts = [sources.shard(list(reversed(refs)), i, 3) for i in (1, 2, 3)]
    assert sorted(r for p in parts for r in p) == sorted(refs)
    assert max(map(len, parts)) - min(map(len, parts)) <= 1
    assert parts == [sources.shard(refs, i, 3) for i in (1, 2, 3)]


def test_parse_ref() -> None:
    assert sources.parse_ref("timm/resnet50") == ModelRef("timm", "resnet50")
    assert sources.parse_ref("alexnet") == ModelRef("torchvision", "alexnet")
    assert sources.parse_ref("a/b.py:Net").source == "user"
    assert sources.parse_ref("pkg.mod:make_net") == ModelRef("user", "pkg.mod:make_net")
    with pytest.raises(UnknownModelError, match="both libraries"):
        sources.parse_ref("resnet50")
    with pytest.raises(UnknownModelError, match="closest"):
        sources.parse_ref("resnet5O")


@pytest.mark.parametrize(
    ("name", "task"),
    [("torchvision/resnet50", "classification"), ("torchvision/fcn_resnet50", "segmentation"),
     ("torchvision/retinanet_resnet50_fpn", "detection"),
     ("torchvision/keypointrcnn_resnet50_fpn", "keypoint"), ("torchvision/r3d_18", "video"),
     ("torchvision/raft_small", "optical_flow"), ("torchvision/quantized_resnet50", "quantized"),
     ("timm/vit_base_patch16_224", "classification")],
)
def test_tasks(name: str, task: str) -> None:
    assert sources.task_of(sources.parse_ref(name)) == task


def test_default_catalog_names_exist() -> None:
    every = set(sources.all_refs())
    default = sources.default_refs()
    assert 25 <= len(default) <= 35 and set(default) <= every
    assert {sources.task_of(r) for r in default} >= {"classification", "segmentation", "video",
                                                    "detection"}


def test_metadata_without_weights() -> None:
    meta = metadata.describe(ModelRef("torchvision", "quantized_resnet50"))
    assert meta["family"] == "resnet" and meta["alias_of"] == "torchvision/resnet50"
    assert meta["links"]["paper"] == "https://arxiv.org/abs/1512.03385"
    both = {metadata.family(ModelRef(s, "inception_v3")) for s in ("torchvision", "timm")}
    assert both == {"inception_v3"}  # one family page for one architecture
    assert metadata.family(ModelRef("timm", "test_vit")) == metadata.TEST_FAMILY
    timm_meta = metadata.describe(ModelRef("timm", "vit_base_patch16_224"))
    assert timm_meta["family"] == "vision_transformer"
    assert timm_meta["links"]["paper"] == "https://arxiv.org/abs/2010.11929"
    model = metadata.build_timm_meta("resnet18")
    assert metadata.count_params(model) == 11689512
    assert [f["reduction"] for f in metadata.timm_feature_info(model)] == [2, 4, 8, 16, 32]


def test_a_document_reads_params_and_stages_from_the_module_the_analysis_built(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No second build of a timm model for its metadata, and the same numbers as one."""
    from rfzoo.catalog import worker

    def no_second_build(name: str) -> None:
        raise AssertionError(f"{name} built again for its metadata")

    monkeypatch.setattr(metadata, "build_timm_meta", no_second_build)
    doc = worker.build_document(ModelRef("timm", "resnet18"), None, probe=False)
    assert doc["status"] == "exact" and doc["params"] == 11689512
    assert [s["declared_reduction"] for s in doc["stages"]] == [2, 4, 8, 16, 32]
    assert doc["feature_info_mismatches"] == []


def test_cache_key_depends_on_what_it_should(monkeypatch: pytest.MonkeyPatch) -> None:
    ref = ModelRef("timm", "resnet50")
    key = cache.model_key(ref, None)
    assert key == cache.model_key(ref, None)
    assert key != cache.model_key(ref, [256, 256])
    assert key != cache.model_key(ModelRef("timm", "resnet18"), None)
    versions = dict(cache.library_versions(), timm="9.9.9")
    monkeypatch.setattr(cache, "library_versions", lambda: versions)
    assert key != cache.model_key(ref, None)


def test_user_model_key_follows_its_source_file(tmp_path: Path) -> None:
    path = tmp_path / "net.py"
    path.write_text("def Net(): ...\n")
    ref = ModelRef("user", f"{path}:Net")
    key = cache.model_key(ref, None)
    assert key == cache.model_key(ref, None)
    path.write_text("def Net(): return None\n")
    assert key != cache.model_key(ref, None)


def test_analysis_version_covers_analysis_code_only() -> None:
    files = {p.relative_to(cache.PACKAGE_DIR).as_posix() for p in cache._source_files()}
    assert {"engine.py", "rules/registry.py", "rules/windows.py", "trace.py", "analysis.py", "models.py"} <= files
    assert not {"cli.py", "catalog/runner.py", "catalog/cli.py"} & files
    assert not any(f.startswith("site/") for f in files)


def test_plan_code_is_in_the_analysis_key_and_measuring_code_in_the_probe_key() -> None:
    """A plan fix re-analyzes (and carries every unchanged plan's results over); a change to
    what runs while measuring re-measures."""
    analysis = {p.relative_to(cache.PACKAGE_DIR).as_posix() for p in cache._source_files()
                if not p.relative_to(cache.PACKAGE_DIR).as_posix().startswith("probe/")}
    probe = {p.relative_to(cache.PACKAGE_DIR).as_posix() for p in sorted(cache.PACKAGE_DIR.rglob("*.py"))
             if cache._is_probe_code(p)}
    assert set(cache.PLAN_CODE) <= {p.relative_to(cache.PACKAGE_DIR).as_posix() for p in cache._source_files()}
    assert not set(cache.PLAN_CODE) & probe
    assert {"probe/targets.py", "probe/verify.py", "probe/support.py", "probe/runner.py",
            "catalog/probe_step.py"} <= probe
    assert not probe & analysis


# What code in the probe's key may call from the plan's: functions that return plans, all of
# whose content the stored fingerprint holds. Anything else would change a measurement
# without changing its key.
PLAN_ENTRY_POINTS = {"plan_axes", "default_size_plan", "plan_fingerprint", "fingerprint_without_model"}


def test_measuring_code_uses_the_plan_code_only_through_plans() -> None:
    import ast

    plan_modules = {"rfzoo." + rel[:-3].replace("/", ".") for rel in cache.PLAN_CODE}
    for path in sorted(cache.PACKAGE_DIR.rglob("*.py")):
        if not cache._is_probe_code(path):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                assert not {a.name for a in node.names} & plan_modules, path
            elif isinstance(node, ast.ImportFrom) and node.module in plan_modules:
                used = {a.name for a in node.names}
                assert used <= PLAN_ENTRY_POINTS, f"{path.name} imports {used - PLAN_ENTRY_POINTS}"


def _layer(name: str, jump: int, rf: int, kind: str = "conv") -> dict:
    return {"name": name, "kind": kind, "jump": [jump, jump], "rf": [rf, rf],
            "rf_min": [rf, rf], "output_size": [224 // jump] * 2, "global": False}


def test_stages_from_jumps_end_at_the_largest_module_of_each_resolution() -> None:
    layers = [
        _layer("input", 1, 1, "input"), _layer("conv1", 2, 7), _layer("relu", 2, 7),
        _layer("layer1.0.conv1", 2, 7), _layer("layer1.0.conv2", 2, 11), _layer("layer1.0.add", 2, 11),
        _layer("layer2.0.conv1", 2, 11), _layer("layer2.0.conv2", 4, 15),  # stride inside layer2
        _layer("layer2.0.down", 4, 11), _layer("layer2.0.add", 4, 15),
        _layer("layer3.0.conv", 8, 31),
        {"name": "pool", "kind": "global", "jump": None, "rf": None, "output_size": [None, None]},
    ]
    stages, mismatches = metadata.stages(layers, "layer3.0.conv")
    assert [(s["name"], s["node"]) for s in stages] == [
        ("layer1", "layer1.0.add"), ("layer2", "layer2.0.add"), ("layer3", "layer3.0.conv")]
    assert mismatches == []


def test_stages_from_feature_info_and_mismatches() -> None:
    layers = [_layer("stem.conv", 4, 7), _layer("stage1.0", 8, 15), _layer("stage1.1", 8, 31)]
    info = [{"module": "stem", "reduction": 4}, {"module": "stage1", "reduction": 16}]
    stages, mismatches = metadata.stages(layers, "stage1.1", info)
    assert [s["node"] for s in stages] == ["stem.conv", "stage1.1"]
    assert [s["reduction_matches"] for s in stages] == [True, False]
    assert mismatches == [{"name": "stage1", "node": "stage1.1", "declared_reduction": 16,
                           "jump": [8, 8]}]


def test_reason_classes_group_by_cause() -> None:
    assert reason_class("unsupported op aten.roll at layers.0.blocks.1; 3 layers") == \
        "unsupported op aten.roll"
    assert reason_class("timed out after 600 s while analyzing; rerun") == "timed out while analyzing"
    rows = [{"source": "timm", "status": "exact"}, {"source": "timm", "status": "partial",
            "reason": "unsupported op x at a.b"}, {"source": "timm", "status": "failed",
            "reason": "boom"}]
    lines = coverage_lines(rows)
    assert lines[0] == "coverage timm: 2/3 analyzed (66.7%): exact 1, partial 1, failed 1"
    assert "      1  unsupported op x" in lines


def test_verification_lines_count_verified_exact_models_and_group_the_reasons() -> None:
    rows = [
        {"source": "timm", "status": "exact", "verified": True, "verify_note": ""},
        {"source": "timm", "status": "exact", "verified": False, "verify_note": "not measured yet"},
        {"source": "timm", "status": "exact", "verified": False,
         "verify_note": "not measured: out of memory at the 9.4 GB per-worker limit while verifying stages; rerun"},
        {"source": "timm", "status": "exact", "verified": False,
         "verify_note": "not measured: out of memory at the 6.4 GB per-worker limit while verifying stages"},
        {"source": "timm", "status": "exact", "verified": False, "verify_note": "disagrees at a, b"},
        {"source": "timm", "status": "failed", "verified": False, "verify_note": ""},
    ]
    lines = verification_lines(rows)
    assert lines[0] == "verified timm: 1/5 exact models (20.0%)"
    assert "      2  not measured: out of memory at the N GB per-worker limit while verifying stages" in lines
    assert "      1  not measured yet" in lines and "      1  disagrees (the model page shows the boxes)" in lines


def test_model_documents_are_deterministic_gzip_and_replace_an_older_plain_copy(tmp_path: Path) -> None:
    ref = sources.ModelRef("timm", "m")
    path = store.model_path(tmp_path, ref)
    assert path.name == "m.json.gz"
    legacy = path.with_suffix("")
    legacy.parent.mkdir(parents=True)
    legacy.write_text("{}")
    doc = {"name": "m", "layers": [{"rf": [3, 3]}]}
    store.write_json(path, doc)
    first = path.read_bytes()
    store.write_json(path, doc)
    assert path.read_bytes() == first  # no time stamp in the gzip header
    assert first[:2] == b"\x1f\x8b" and not legacy.exists()
    assert store.read_json(path) == doc
    assert store.document_paths(tmp_path) == [path]


def test_document_paths_keeps_models_of_the_same_name_in_two_libraries(tmp_path: Path) -> None:
    paths = [store.model_path(tmp_path, sources.ModelRef(src, "resnet50")) for src in ("timm", "torchvision")]
    for p in paths:
        store.write_json(p, {"name": "resnet50"})
    assert store.document_paths(tmp_path) == sorted(paths)


def test_index_row_says_when_the_summary_node_sees_the_whole_input() -> None:
    vit = {"source": "timm", "name": "vit", "input_size": [224, 224], "status": "exact",
           "summary": {"rf": [16, 16], "jump": [16, 16], "global": True, "global_from": "blocks.0.attn"}}
    row = store.index_row(vit)
    assert row["whole_input_from"] == "blocks.0.attn" and row["rf"] == [16, 16]  # local-path RF kept
    resnet = {"source": "timm", "name": "r", "input_size": [224, 224], "status": "exact",
              "summary": {"rf": [427, 427], "jump": [32, 32], "global": False, "global_from": "avgpool"}}
    assert store.index_row(resnet)["whole_input_from"] == ""  # global only after the summary node


def test_index_row_keeps_the_time_axis_apart_from_the_spatial_ones() -> None:
    video = {"source": "torchvision", "name": "r3d_18", "input_size": [16, 112, 112], "status": "exact",
             "summary": {"rf": [109, 107, 107], "jump": [8, 16, 16]}}
    row = store.index_row(video)
    assert row["rf_ratio"] == 0.9554 and row["rf_ratio_time"] == 6.8125


def test_rows_of_an_older_row_version_are_rederived_from_the_documents(tmp_path: Path) -> None:
    ref = ModelRef("timm", "vit")
    doc = {"source": "timm", "name": "vit", "input_size": [224, 224], "status": "exact",
           "summary": {"rf": [16, 16], "jump": [16, 16], "global": True, "global_from": "blocks.0.attn"}}
    store.write_json(store.model_path(tmp_path, ref), doc)
    old_row = {"source": "timm", "name": "vit", "rf": [16, 16]}  # written before whole_input_from
    cache.write_entry(tmp_path, ref, cache.CacheEntry("k", None, old_row, row_version="old"))
    (row,) = cache.current_rows(tmp_path)
    assert row == store.index_row(doc) and row["whole_input_from"] == "blocks.0.attn"
    assert cache.read_entry(tmp_path, ref) == cache.CacheEntry("k", None, row)  # rewritten once
    assert row["verify_note"] == "not measured yet"
