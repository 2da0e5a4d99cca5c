"""Regression tests for silent wrong answers found by trying the losses as a new user would: half precision at
real sizes, 0/255 masks, NaN hidden by mining, other libraries' conventions, options outside their domain,
precision edges and unclear errors. Each example gets the right outcome: the float32 answer, or a clear error."""

from __future__ import annotations

import io

import pytest
import torch
import torch.nn.functional as F

import imagelosses as il
from imagelosses import functional as ilf
from tests.vgg_fixtures import tiny_vgg

HALF = [torch.float16, torch.bfloat16]
RTOL = {torch.float16: 2e-3, torch.bfloat16: 1.6e-2}

META = r"expected a tensor with data \(meta tensors carry only a shape\), got a tensor on the meta device"


def _close(value: torch.Tensor, expect: float, dtype: torch.dtype) -> None:
    assert torch.isfinite(value), value
    assert abs(float(value) - expect) <= RTOL[dtype] * abs(expect) + 1e-4, (float(value), expect)


# ------------------------------------------------------------------------------------------ precision
@pytest.mark.parametrize("dtype", HALF)
def test_binary_cross_entropy_half_equals_float32(dtype: torch.dtype) -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(1, 1, 256, 256, generator=g)
    t = (torch.rand(1, 1, 256, 256, generator=g) > 0.5).float()
    xh = x.to(dtype)
    expect = float(F.binary_cross_entropy_with_logits(xh.float(), t))
    out = il.PixelCrossEntropyLoss()(xh, t.to(dtype))
    assert out.dtype == dtype  # torch's convention: a half loss for half inputs, computed in float32 inside
    _close(out, expect, dtype)
    with torch.autocast("cpu", dtype=dtype):
        _close(il.PixelCrossEntropyLoss()(x, t), float(F.binary_cross_entropy_with_logits(x, t)), dtype)


@pytest.mark.parametrize("dtype", HALF)
def test_mse_half_at_512_squared_is_one_with_and_without_map(dtype: torch.dtype) -> None:
    ones = torch.ones(8, 3, 512, 512, dtype=dtype)
    zeros = torch.zeros_like(ones)
    assert float(il.MSELoss()(ones, zeros)) == 1.0  # 6.3M squared errors summed in float32, not in half
    assert float(il.MSELoss()(ones, zeros, torch.ones(8, 512, 512, dtype=dtype))) == 1.0
    assert float(il.L1Loss(weighted_mean="count")(ones, zeros, torch.full((8, 512, 512), 2.0, dtype=dtype))) == 2.0


@pytest.mark.parametrize("dtype", HALF)
def test_segmentation_losses_half_match_float32_at_real_size(dtype: torch.dtype) -> None:
    g = torch.Generator().manual_seed(1)
    logits = (torch.randn(4, 5, 128, 128, generator=g) * 4).to(dtype)
    target = torch.randint(0, 5, (4, 128, 128), generator=g)
    for fn in (ilf.pixel_cross_entropy, ilf.dice_loss, ilf.focal_loss):
        _close(fn(logits, target), float(fn(logits.float(), target)), dtype)


@pytest.mark.parametrize("dtype", HALF)
def test_triplet_half_at_4096_embeddings_matches_float32(dtype: torch.dtype) -> None:
    g = torch.Generator().manual_seed(2)
    x = torch.randn(4096, 64, generator=g).to(dtype)
    y = torch.arange(4096) % 256
    for mining in ("hard", "semihard"):
        _close(ilf.triplet_loss(x, y, mining=mining), float(ilf.triplet_loss(x.float(), y, mining=mining)), dtype)
    _close(ilf.batch_contrastive_loss(x[:1024], y[:1024]), float(ilf.batch_contrastive_loss(x[:1024].float(),
                                                                                              y[:1024])), dtype)


@pytest.mark.parametrize("dtype", HALF)
def test_feature_losses_take_half_images(dtype: torch.dtype) -> None:
    vgg = tiny_vgg(("relu1_2", "relu2_1"))
    g = torch.Generator().manual_seed(3)
    a, b = torch.rand(2, 3, 64, 64, generator=g), torch.rand(2, 3, 64, 64, generator=g)
    ah, bh = a.to(dtype), b.to(dtype)
    for fn in (ilf.perceptual_loss, ilf.style_loss):
        out = fn(ah, bh, extractor=vgg, layers=("relu1_2", "relu2_1"))
        expect = float(fn(ah.float(), bh.float(), extractor=vgg, layers=("relu1_2", "relu2_1")))
        assert abs(float(out) - expect) <= 1e-5 * abs(expect)  # run through the float32 network


def test_charbonnier_tiny_eps_has_a_finite_gradient_at_zero_error() -> None:
    for dtype, eps in ((torch.float32, 1e-30), (torch.float16, 1e-4), (torch.float64, 1e-300)):
        x = torch.zeros(1, 1, 4, 4, dtype=dtype, requires_grad=True)
        out = ilf.charbonnier_loss(x, torch.zeros_like(x), eps=eps)
        out.backward()
        assert torch.isfinite(x.grad).all() and float(x.grad.abs().max()) == 0.0
        assert float(out.detach()) == pytest.approx(eps, rel=1e-2)


def test_normalize_keeps_the_direction_of_huge_embeddings() -> None:
    g = torch.Generator().manual_seed(4)
    x = torch.randn(12, 8, generator=g)
    y = torch.arange(12) % 3
    for mining in ("all", "hard", "semihard"):
        expect = ilf.triplet_loss(x, y, mining=mining)
        torch.testing.assert_close(ilf.triplet_loss(x * 1e20, y, mining=mining), expect)
        assert float(expect) != pytest.approx(0.2)  # not the margin of collapsed (all-zero) embeddings


# ------------------------------------------------------------------------------------------- domains
@pytest.mark.parametrize("fn", [ilf.pixel_cross_entropy, ilf.dice_loss, ilf.focal_loss])
def test_a_0_255_mask_says_divide_by_255(fn) -> None:
    logits = torch.randn(2, 1, 8, 8)
    mask = (torch.rand(2, 1, 8, 8) > 0.5).float() * 255
    with pytest.raises(ValueError, match=r"target: expected binary labels in \[0, 1\] \(a 0/255 mask: divide it by "
                                         r"255\), got values in \[0, 255\]"):
        fn(logits, mask)
    assert torch.isfinite(fn(logits, mask / 255))


def test_contrastive_refuses_other_pair_conventions() -> None:
    a, b = torch.randn(4, 3), torch.randn(4, 3)
    with pytest.raises(ValueError, match=r"torch's CosineEmbeddingLoss ±1 convention: pass \(target \+ 1\) // 2\), "
                                         r"got values in \[-1, 1\]"):
        ilf.contrastive_loss(a, b, torch.tensor([1, -1, 1, -1]))
    with pytest.raises(ValueError, match=r"target: expected pair labels in \{0, 1\}.*got values in \[0, 2\]"):
        ilf.contrastive_loss(a, b, torch.tensor([0, 2, 1, 0]))
    assert torch.isfinite(ilf.contrastive_loss(a, b, torch.tensor([True, False, True, False])))


@pytest.mark.parametrize("build,message", [
    (lambda: il.TripletLoss(normalize="False"), "normalize: expected a bool (True or False), got 'False'"),
    (lambda: il.DiceLoss(include_background="False"), "include_background: expected a bool (True or False)"),
    (lambda: il.PKSampler(torch.tensor([0.0, 0.0, 1.0, 1.0]), p=2, k=2),
     "labels: expected an integer tensor (torch.long), got dtype torch.float32"),
    (lambda: il.PixelCrossEntropyLoss(ignore_index=255.0), "ignore_index: expected an integer, got float"),
    (lambda: il.PixelCrossEntropyLoss(ignore_index=None), "ignore_index: expected an integer, got NoneType"),
])
def test_wrong_types_are_type_errors(build, message) -> None:
    with pytest.raises(TypeError, match=message.replace("(", r"\(").replace(")", r"\)")):
        build()


@pytest.mark.parametrize("build,message", [
    (lambda: il.FocalLoss(alpha=torch.tensor([0.5, -0.5])), "alpha: expected finite, non-negative weights"),
    (lambda: il.PixelCrossEntropyLoss(class_weight=torch.tensor([1.0, float("nan")])),
     "class_weight: expected finite, non-negative weights, got [1.0, nan]"),
    (lambda: il.TripletLoss(margin=float("inf")), "margin: expected a finite number > 0.0, got inf"),
    (lambda: il.ContrastiveLoss(margin=float("nan")), "margin: expected a finite number > 0.0, got nan"),
    (lambda: il.unet_weight_map(torch.zeros(1, 8, 8, dtype=torch.long), w0=float("inf")),
     "w0: expected a finite number >= 0.0, got inf"),
    (lambda: il.unet_weight_map(torch.zeros(1, 8, 8, dtype=torch.long), sigma=float("inf")),
     "sigma: expected a finite number > 0.0, got inf"),
])
def test_options_outside_their_domain_are_value_errors(build, message) -> None:
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        build()


def test_weight_map_class_weight_float_is_a_type_error() -> None:
    with pytest.raises(TypeError, match=r"class_weight: expected \(background, foreground\) weights, 'balanced' or "
                                        r"None, got 2.0"):
        il.unet_weight_map(torch.zeros(1, 8, 8, dtype=torch.long), class_weight=2.0)


# ------------------------------------------------------------------------------------------------ NaN
@pytest.mark.parametrize("mining,distance", [("hard", "euclidean"), ("semihard", "squared_euclidean"),
                                             ("all", "euclidean"), ("hard", "cosine")])
def test_one_nan_row_gives_a_nan_triplet_loss(mining: str, distance: str) -> None:
    x = torch.randn(16, 4)
    x[5] = float("nan")
    y = torch.arange(16) % 4
    assert torch.isnan(ilf.triplet_loss(x, y, mining=mining, distance=distance))
    assert torch.isnan(ilf.triplet_loss(x, y, mining=mining, distance=distance, reduction="none")).all()


def test_nan_in_contrastive_and_ignored_pixels_gives_nan() -> None:
    x = torch.randn(8, 4)
    x[3, 1] = float("inf")
    assert torch.isnan(ilf.batch_contrastive_loss(x, torch.arange(8) % 2))
    logits = torch.randn(1, 3, 4, 4)
    target = torch.zeros(1, 4, 4, dtype=torch.long)
    target[0, 0, 0] = -100
    logits[0, :, 0, 0] = float("nan")  # only the ignored pixel: still a diverged network
    assert torch.isnan(ilf.pixel_cross_entropy(logits, target))
    assert torch.isnan(ilf.dice_loss(logits, target)) and torch.isnan(ilf.focal_loss(logits, target))


@pytest.mark.parametrize("module,args", [
    (il.MSELoss, (torch.full((1, 1, 2, 2), float("nan")), torch.zeros(1, 1, 2, 2))),
    (il.TripletLoss, (torch.full((4, 2), float("nan")), torch.tensor([0, 0, 1, 1]))),
    (il.DiceLoss, (torch.full((1, 2, 2, 2), float("nan")), torch.zeros(1, 2, 2, dtype=torch.long))),
])
def test_check_finite_turns_nan_into_an_error(module, args) -> None:
    if module is il.TripletLoss:  # metric losses have no check_finite flag: NaN propagates instead
        assert torch.isnan(module()(*args))
        return
    with pytest.raises(ValueError, match=r"input: expected finite values, got \d+ NaN or infinite entries"):
        module(check_finite=True)(*args)


# ----------------------------------------------------------------------------------- unclear errors
def test_target_on_another_device_and_meta_tensors() -> None:
    x = torch.randn(1, 3, 4, 4)
    with pytest.raises(ValueError, match=r"target: " + META):
        ilf.mse_loss(x, torch.empty(1, 3, 4, 4, device="meta"))
    with pytest.raises(ValueError, match=r"target: " + META):
        ilf.dice_loss(x, torch.empty(1, 4, 4, dtype=torch.long, device="meta"))
    with pytest.raises(ValueError, match="input: expected a tensor with data"):
        ilf.mse_loss(x.to("meta"), x.to("meta"))


def test_corrupt_weight_files_name_the_file(tmp_path) -> None:
    bad_pt = tmp_path / "vgg.pth"
    bad_pt.write_bytes(b"not a checkpoint")
    bad_st = tmp_path / "vgg.safetensors"
    bad_st.write_bytes(b"\x00\x01garbage")
    for path in (bad_pt, bad_st):
        with pytest.raises((ValueError, RuntimeError), match=str(path.name)):
            il.VGGFeatures("vgg16", ("relu1_1",), weights=str(path))
    buffer = io.BytesIO()
    torch.save({"unrelated": torch.zeros(1)}, buffer)
    other = tmp_path / "other.pth"
    other.write_bytes(buffer.getvalue())
    with pytest.raises(ValueError, match="weights: expected a vgg16 state dict"):
        il.VGGFeatures("vgg16", ("relu1_1",), weights=str(other))


# ------------------------------------------------------------------------------ degenerate definitions
@pytest.mark.parametrize("smooth", [0.0, 1e-5, 1.0])
def test_dice_with_every_pixel_ignored_is_zero_whatever_the_smoothing(smooth: float) -> None:
    logits = torch.randn(2, 3, 4, 4, requires_grad=True)
    target = torch.full((2, 4, 4), -100)
    out = ilf.dice_loss(logits, target, smooth=smooth)
    assert float(out.detach()) == 0.0
    out.backward()
    assert torch.isfinite(logits.grad).all()


def test_dice_micro_matches_kornia() -> None:
    import kornia

    g = torch.Generator().manual_seed(5)
    logits = torch.randn(3, 4, 6, 5, generator=g, dtype=torch.float64)
    target = torch.randint(0, 4, (3, 6, 5), generator=g)
    ref = kornia.losses.dice_loss(logits, target, average="micro", eps=1e-8)
    torch.testing.assert_close(ilf.dice_loss(logits, target, class_average="micro", smooth=0.0), ref,
                               atol=1e-6, rtol=1e-6)


def test_soft_targets_match_torch_and_one_hot_targets() -> None:
    g = torch.Generator().manual_seed(6)
    logits = torch.randn(2, 4, 5, 5, generator=g, dtype=torch.float64)
    probs = torch.softmax(torch.randn(2, 4, 5, 5, generator=g, dtype=torch.float64), 1)
    w = torch.tensor([0.5, 1.0, 2.0, 1.5], dtype=torch.float64)
    torch.testing.assert_close(ilf.pixel_cross_entropy(logits, probs, class_weight=w, label_smoothing=0.1),
                               F.cross_entropy(logits, probs, weight=w, label_smoothing=0.1))
    hard = torch.randint(0, 4, (2, 5, 5), generator=g)
    onehot = F.one_hot(hard, 4).movedim(-1, 1).double()
    torch.testing.assert_close(ilf.pixel_cross_entropy(logits, onehot), ilf.pixel_cross_entropy(logits, hard))
    with pytest.raises(ValueError, match="class_weight: expected a tensor \\(or None\\) with probability targets"):
        ilf.pixel_cross_entropy(logits, probs, class_weight="balanced")


def test_unbatched_inputs_where_torch_accepts_them() -> None:
    x = torch.randn(3, 4, 4)
    with pytest.raises(ValueError, match=r"input: expected a tensor of shape \(N, C, \*\)"):
        ilf.mse_loss(x[0, 0], x[0, 0])  # a bare (H, W) image is ambiguous: batch and channel dims are required
    torch.testing.assert_close(ilf.mse_loss(x[None], x[None] * 0), F.mse_loss(x, x * 0))


def test_dice_class_absent_from_the_target() -> None:
    """Macro Dice: a class absent from the target but predicted costs ~1; absent from both costs 0."""
    target = torch.zeros(1, 4, 4, dtype=torch.long)  # only class 0 present
    predicts_one = torch.full((1, 3, 4, 4), -20.0)
    predicts_one[:, 1] = 20.0  # every pixel predicted as class 1
    none = ilf.dice_loss(predicts_one, target, reduction="none")[0]
    assert float(none[1]) > 0.99  # absent from the target, predicted everywhere: a false positive class
    assert float(none[2]) < 1e-6  # absent from both: a perfect score
    assert float(none[0]) > 0.99  # present, never predicted


# ------------------------------------------------------------------ found by review (second session)
def test_balanced_class_weights_count_past_2_to_the_24_pixels() -> None:
    """A float32 count stops at 2**24: a class of more pixels got the wrong weight."""
    g = torch.Generator().manual_seed(0)
    target = (torch.rand(1, 4300, 4300, generator=g) < 0.05).long()  # ~17.6M background pixels
    logits = torch.randn(1, 2, 4300, 4300, generator=g)
    counts = torch.bincount(target.flatten(), minlength=2).double()
    exact = counts.sum() / (2 * counts)
    ours = ilf.pixel_cross_entropy(logits, target, class_weight="balanced", reduction="sum")
    ref = ilf.pixel_cross_entropy(logits, target, class_weight=exact.float(), reduction="sum")
    assert counts[0] > 2**24
    torch.testing.assert_close(ours, ref, rtol=1e-5, atol=0)


def test_offline_euclidean_triplet_is_computed_in_float32_for_half_inputs() -> None:
    a, p, n = torch.tensor([[2000.0, 0.0]]), torch.tensor([[0.0, 2000.0]]), torch.tensor([[-828.0, 0.0]])
    half = ilf.triplet_margin_loss(a.half(), p.half(), n.half(), distance="euclidean", normalize=False)
    full = ilf.triplet_margin_loss(a, p, n, distance="euclidean", normalize=False)
    assert float(half) == pytest.approx(float(full), rel=1e-4)  # fp16 distances gave 1.0 instead of 1.427


def test_identical_rows_are_at_distance_exactly_zero() -> None:
    from imagelosses.embedding.distances import pairwise_distances

    for seed in range(20):
        x = torch.randn(64, 128, generator=torch.Generator().manual_seed(seed))
        x[3] = x[5] = x[1]
        for distance in ("euclidean", "squared_euclidean"):
            d = pairwise_distances(x, distance=distance, normalize=True)
            assert float(d[1, 3]) == float(d[3, 5]) == float(d[1, 5]) == 0.0


def test_focal_alpha_messages_say_what_alpha_must_be() -> None:
    logits, target = torch.randn(2, 3, 4, 4), torch.randint(0, 3, (2, 4, 4))
    with pytest.raises(ValueError, match=r"^alpha: expected a 1-D tensor \(C,\), one weight per class \(or a float "
                                         r"for binary logits\), got shape \(3, 1\)$"):
        ilf.focal_loss(logits, target, alpha=torch.ones(3, 1))
    with pytest.raises(TypeError, match=r"^alpha: expected a tensor of shape \(3,\), one weight per class, for "
                                        r"3-class logits \(a float alpha is for binary \(N, 1, \*\) logits\), "
                                        r"got 0.25$"):
        ilf.focal_loss(logits, target, alpha=0.25)
    with pytest.raises(ValueError, match=r"^alpha: expected a tensor of shape \(3,\), one weight per class, got "
                                         r"shape \(2,\)$"):
        ilf.focal_loss(logits, target, alpha=torch.ones(2))


def test_tensor_options_on_another_device_are_named() -> None:
    """A weight map, class weights or alpha on another device than the input: a named error, not torch's."""
    logits, target = torch.randn(2, 3, 4, 4), torch.randint(0, 3, (2, 4, 4))
    meta = torch.device("meta")
    with pytest.raises(ValueError, match=r"^weight: " + META + "$"):
        ilf.pixel_cross_entropy(logits, target, weight=torch.ones(2, 4, 4, device=meta))
    with pytest.raises(ValueError, match=r"^weight: " + META + "$"):
        ilf.mse_loss(logits, torch.rand(2, 3, 4, 4), weight=torch.ones(2, 4, 4, device=meta))
    with pytest.raises(ValueError, match=r"^class_weight: " + META + "$"):
        ilf.pixel_cross_entropy(logits, target, class_weight=torch.ones(3, device=meta))
    with pytest.raises(ValueError, match=r"^alpha: " + META + "$"):
        ilf.focal_loss(logits, target, alpha=torch.ones(3, device=meta))
    # the regression weight map may also be per channel, and its message says so
    with pytest.raises(ValueError, match=r"^weight: expected a per-pixel map of shape \(N, \*\), \(N, 1, \*\) or "
                                         r"\(N, C, \*\) matching input \(2, 3, 4, 4\), got shape \(2, 2, 4, 4\)$"):
        ilf.mse_loss(logits, torch.rand(2, 3, 4, 4), weight=torch.ones(2, 2, 4, 4))


def test_numbers_may_be_numpy_scalars() -> None:
    import numpy as np

    x, y = torch.randn(4, 8), torch.randint(0, 2, (4,))
    assert torch.equal(ilf.triplet_loss(x, y, margin=np.float32(0.25)), ilf.triplet_loss(x, y, margin=0.25))
    loss = il.FocalLoss(gamma=np.float64(2.0))
    assert isinstance(loss.gamma, float) and loss.gamma == 2.0
    with pytest.raises(ValueError, match=r"^margin: expected a finite number > 0.0, got np.float32\(-1.0\)$"):
        ilf.triplet_loss(x, y, margin=np.float32(-1.0))
    with pytest.raises(TypeError, match=r"^margin: expected a real number, got str$"):
        ilf.triplet_loss(x, y, margin="0.2")
