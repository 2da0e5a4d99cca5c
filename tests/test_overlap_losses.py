"""Tversky, generalized Dice, Dice + CE and Lovász-softmax: the standard harness, naive loops, MONAI and kornia."""

from __future__ import annotations

import warnings
from typing import ClassVar

import pytest
import torch
import torch.nn.functional as F

import imagelosses as il
from imagelosses import functional as ilf
from tests._harness import BadInput, BadOption, LossCase, StandardLossTests
from tests.test_pixel import BINARY_BAD, CE_BAD, COMMON_OPTIONS, binary_inputs, multiclass_inputs, with_map
from tests.test_segmentation import BINARY_PAIR_BAD, DICE_BAD, SEG_OPTIONS, binary, multiclass

# ------------------------------------------------------------------------------------ the bad-input tables
ONE_CHANNEL_BACKGROUND = BadInput(
    "include_background on one channel", lambda a: ((a[0][:, :1], a[1].clamp(0, 1).double()),
                                                    {"include_background": False}), ValueError,
    "include_background: expected True for a single-channel input")
OVERLAP_BAD = [*DICE_BAD, ONE_CHANNEL_BACKGROUND,
               BadInput("float target", lambda a: ((a[0], a[1].float()), {}), TypeError,
                        "target: expected an integer tensor of class indices for 4-class logits"),
               BadInput("index range", lambda a: ((a[0], a[1].clamp_min(0) + 10), {}), ValueError,
                        "target: expected class indices in [0, 3] or ignore_index=-100, got index 13")]
TVERSKY_OPTIONS = [
    *SEG_OPTIONS,
    BadOption("alpha", {"alpha": -0.1}, ValueError, "alpha: expected a finite number >= 0.0, got -0.1"),
    BadOption("gamma", {"gamma": 0.0}, ValueError, "gamma: expected a finite number > 0.0, got 0.0"),
    BadOption("alpha + beta", {"alpha": 0.0, "beta": 0}, ValueError,
              "beta: expected alpha + beta > 0 (with both 0 the loss is 0 whatever the prediction), got alpha=0.0, "
              "beta=0.0"),
    BadOption("beta as string", {"beta": "0.7"}, TypeError, "beta: expected a real number, got str"),
    BadOption("batch_dice", {"batch_dice": 1}, TypeError, "batch_dice: expected a bool (True or False), got 1"),
]
GDL_OPTIONS = [
    *SEG_OPTIONS,
    BadOption("smooth", {"smooth": -1e-5}, ValueError, "smooth: expected a finite number >= 0.0, got -1e-05"),
    BadOption("include_background", {"include_background": "no"}, TypeError,
              "include_background: expected a bool (True or False), got 'no'"),
]
DICE_CE_OPTIONS = [
    BadOption("reduction none", {"reduction": "none"}, ValueError,
              "reduction: expected one of 'mean', 'sum', got 'none'"),
    BadOption("lambda_ce", {"lambda_ce": -1}, ValueError, "lambda_ce: expected a finite number >= 0.0, got -1"),
    BadOption("lambda_dice", {"lambda_dice": "1"}, TypeError, "lambda_dice: expected a real number, got str"),
    BadOption("class weight mode", {"class_weight": "inverse"}, ValueError,
              "class_weight: expected one of 'balanced', 'median_frequency', got 'inverse'"),
    BadOption("class_average", {"class_average": "weighted"}, ValueError,
              "class_average: expected one of 'macro', 'micro', got 'weighted'"),
    BadOption("nan class weight", {"class_weight": torch.tensor([1.0, float("nan")])}, ValueError,
              "class_weight: expected finite, non-negative weights, got [1.0, nan]"),
    *[opt for opt in COMMON_OPTIONS if opt.label != "reduction"],
]
LOVASZ_OPTIONS = [
    *SEG_OPTIONS,
    BadOption("classes", {"classes": "some"}, ValueError, "classes: expected one of 'present', 'all', got 'some'"),
    BadOption("per_image", {"per_image": "yes"}, TypeError, "per_image: expected a bool (True or False), got 'yes'"),
]
SOFT_BINARY = BadInput("soft binary target", lambda a: ((a[0], a[1].clamp_min(0) * 0.5), {}), ValueError,
                       "target: expected hard 0/1 labels for the Lovász loss of one channel (it sorts pixels into "
                       "foreground and background), got soft labels")
LOVASZ_BAD = [*OVERLAP_BAD[1:3], *OVERLAP_BAD[4:]]
DICE_CE_BAD = [b for b in CE_BAD if "smoothing" not in b.label]


def _lovasz_none_shape(per_image):
    return lambda a: (a[0].shape[0],) if per_image else ()


class TestOverlapHarness(StandardLossTests):
    cases: ClassVar[list[LossCase]] = [
        LossCase(name="tversky", functional=ilf.tversky_loss, module=il.TverskyLoss, make_inputs=multiclass,
                 kwargs={"alpha": 0.3, "beta": 0.7, "gamma": 0.75, "include_background": False},
                 none_shape=lambda a: (a[0].shape[0], a[0].shape[1] - 1), bad_inputs=OVERLAP_BAD,
                 bad_options=TVERSKY_OPTIONS),
        LossCase(name="tversky_binary_batch", functional=ilf.tversky_loss, module=il.TverskyLoss, make_inputs=binary,
                 kwargs={"alpha": 0.3, "beta": 0.7, "batch_dice": True}, none_shape=lambda a: (1,),
                 bad_inputs=BINARY_PAIR_BAD, bad_options=TVERSKY_OPTIONS),
        LossCase(name="generalized_dice", functional=ilf.generalized_dice_loss, module=il.GeneralizedDiceLoss,
                 make_inputs=multiclass, none_shape=lambda a: (a[0].shape[0],), bad_inputs=OVERLAP_BAD,
                 bad_options=GDL_OPTIONS),
        LossCase(name="generalized_dice_batch_binary", functional=ilf.generalized_dice_loss,
                 module=il.GeneralizedDiceLoss, make_inputs=binary, kwargs={"batch_dice": True},
                 none_shape=lambda a: (), bad_inputs=BINARY_PAIR_BAD, bad_options=GDL_OPTIONS),
        LossCase(name="dice_ce", functional=with_map(ilf.dice_ce_loss), module=il.DiceCELoss,
                 make_inputs=multiclass_inputs,
                 kwargs={"class_weight": torch.tensor([0.5, 2.0, 1.0, 3.0], dtype=torch.float64),
                         "lambda_dice": 0.7, "include_background": False, "batch_dice": True},
                 reductions=("mean", "sum"), batch_args=(0, 1, 2), bad_inputs=DICE_CE_BAD,
                 bad_options=DICE_CE_OPTIONS),
        LossCase(name="dice_ce_binary", functional=with_map(ilf.dice_ce_loss), module=il.DiceCELoss,
                 make_inputs=binary_inputs, kwargs={"lambda_ce": 2.0}, reductions=("mean", "sum"),
                 batch_args=(0, 1, 2), bad_inputs=BINARY_BAD, bad_options=DICE_CE_OPTIONS),
        LossCase(name="lovasz_batch", functional=ilf.lovasz_softmax_loss, module=il.LovaszSoftmaxLoss,
                 make_inputs=multiclass, none_shape=_lovasz_none_shape(False), bad_inputs=LOVASZ_BAD,
                 bad_options=LOVASZ_OPTIONS),
        LossCase(name="lovasz_per_image_all", functional=ilf.lovasz_softmax_loss, module=il.LovaszSoftmaxLoss,
                 make_inputs=multiclass, kwargs={"per_image": True, "classes": "all"},
                 none_shape=_lovasz_none_shape(True), bad_inputs=LOVASZ_BAD, bad_options=LOVASZ_OPTIONS),
        LossCase(name="lovasz_binary", functional=ilf.lovasz_softmax_loss, module=il.LovaszSoftmaxLoss,
                 make_inputs=binary, kwargs={"per_image": True}, none_shape=_lovasz_none_shape(True),
                 bad_inputs=[*BINARY_PAIR_BAD, SOFT_BINARY], bad_options=LOVASZ_OPTIONS),
    ]


# ------------------------------------------------------------------------------------- naive references
def naive_tversky(logits, target, alpha, beta, smooth, ignore=-100):
    """Per (sample, class) loop over the pixels, softmax (or sigmoid for one channel)."""
    n, c = logits.shape[:2]
    binary = c == 1
    probs = torch.sigmoid(logits) if binary else torch.softmax(logits, 1)
    out = torch.zeros(n, c, dtype=torch.float64)
    for i in range(n):
        for k in range(c):
            tp = fp = fn = 0.0
            for y in range(logits.shape[2]):
                for x in range(logits.shape[3]):
                    t = float(target[i, 0, y, x]) if binary else int(target[i, y, x])
                    if t == ignore:
                        continue
                    g = t if binary else float(t == k)
                    p = float(probs[i, k, y, x])
                    tp, fp, fn = tp + p * g, fp + p * (1 - g), fn + (1 - p) * g
            out[i, k] = 1 - (tp + smooth) / (tp + alpha * fp + beta * fn + smooth)
    return out


def naive_generalized_dice(logits, target, smooth):
    probs = torch.softmax(logits, 1)
    out = []
    for i in range(logits.shape[0]):
        weights, inter, union = [], [], []
        for k in range(logits.shape[1]):
            g = (target[i] == k).double()
            vol = float(g.sum())
            weights.append(1 / vol**2 if vol else float("inf"))
            inter.append(float((probs[i, k] * g).sum()))
            union.append(float((probs[i, k] + g).sum()))
        finite = max([w for w in weights if w != float("inf")], default=0.0)
        weights = [finite if w == float("inf") else w for w in weights]
        num = 2 * sum(w * a for w, a in zip(weights, inter, strict=True)) + smooth
        den = sum(w * u for w, u in zip(weights, union, strict=True)) + smooth
        out.append(1 - num / den)
    return torch.tensor(out, dtype=torch.float64)


def berman_lovasz_softmax(probas, labels, classes="present", per_image=False, ignore=None):
    """The authors' reference (github.com/bermanmaxim/LovaszSoftmax, lovasz_losses.py), loops and all."""

    def lovasz_grad(gt_sorted):
        gts = gt_sorted.sum()
        intersection = gts - gt_sorted.cumsum(0)
        union = gts + (1 - gt_sorted).cumsum(0)
        jaccard = 1.0 - intersection / union
        if len(gt_sorted) > 1:
            jaccard[1:] = jaccard[1:] - jaccard[:-1]
        return jaccard

    def flat(p, lab):
        if p.numel() == 0:
            return p.sum() * 0.0
        losses = []
        for c in range(p.shape[1]):
            fg = (lab == c).to(p.dtype)
            if classes == "present" and fg.sum() == 0:
                continue
            errors = (fg - p[:, c]).abs()
            errors_sorted, perm = torch.sort(errors, 0, descending=True)
            losses.append(torch.dot(errors_sorted, lovasz_grad(fg[perm])))
        return torch.stack(losses).mean() if losses else p.sum() * 0.0

    def flatten(p, lab):
        p = p.movedim(1, -1).reshape(-1, p.shape[1])
        lab = lab.reshape(-1)
        keep = lab != ignore
        return p[keep], lab[keep]

    if per_image:
        return torch.stack([flat(*flatten(p[None], lab[None])) for p, lab in zip(probas, labels, strict=True)]).mean()
    return flat(*flatten(probas, labels))


def _inputs(seed, n=3, c=4, h=7, w=6, scale=2.0):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(n, c, h, w, generator=g, dtype=torch.float64) * scale
    target = torch.randint(0, c, (n, h, w), generator=g)
    target[0][target[0] == 2] = 1  # class 2 absent from sample 0
    return logits, target


# ------------------------------------------------------------------------------------------- Tversky
@pytest.mark.parametrize("alpha,beta", [(0.3, 0.7), (0.5, 0.5), (0.9, 0.1)])
def test_tversky_matches_naive_loop(alpha, beta):
    logits, target = _inputs(0)
    target[1, 0, :3] = -100
    ours = ilf.tversky_loss(logits, target, alpha=alpha, beta=beta, reduction="none")
    torch.testing.assert_close(ours, naive_tversky(logits, target, alpha, beta, 1e-5))
    # focal Tversky raises each per-class value to γ
    focal = ilf.tversky_loss(logits, target, alpha=alpha, beta=beta, gamma=0.75, reduction="none")
    torch.testing.assert_close(focal, ours**0.75)


def test_tversky_binary_naive_and_half_is_dice():
    logits, target = binary(torch.float64, 3, 2.0)
    ours = ilf.tversky_loss(logits, target, alpha=0.2, beta=0.8, reduction="none")
    torch.testing.assert_close(ours, naive_tversky(logits, target, 0.2, 0.8, 1e-5))
    multi, labels = _inputs(1)
    torch.testing.assert_close(ilf.tversky_loss(multi, labels, smooth=0.0), ilf.dice_loss(multi, labels, smooth=0.0))


@pytest.mark.parametrize("batch_dice", [False, True])
def test_tversky_matches_monai_sigmoid(batch_dice):
    from monai.losses import TverskyLoss as MonaiTversky

    g = torch.Generator().manual_seed(2)
    logits = torch.randn(3, 1, 9, 8, generator=g, dtype=torch.float64) * 2
    target = (torch.rand(3, 1, 9, 8, generator=g) > 0.8).double()
    ref = MonaiTversky(sigmoid=True, alpha=0.3, beta=0.7, batch=batch_dice)(logits, target)
    ours = il.TverskyLoss(alpha=0.3, beta=0.7, batch_dice=batch_dice)(logits, target)
    torch.testing.assert_close(ours, ref, rtol=0, atol=1e-12)


def test_tversky_matches_monai_softmax():
    from monai.losses import TverskyLoss as MonaiTversky

    logits, target = _inputs(3)
    ref = MonaiTversky(softmax=True, to_onehot_y=True, alpha=0.3, beta=0.7, include_background=False,
                       reduction="none")(logits, target[:, None])
    ours = ilf.tversky_loss(logits, target, alpha=0.3, beta=0.7, include_background=False, reduction="none")
    torch.testing.assert_close(ours, ref.reshape(ours.shape), rtol=0, atol=1e-12)


def test_focal_tversky_gradient_is_zero_not_nan_at_a_perfect_prediction():
    target = torch.tensor([[[0, 1], [1, 0]]])
    logits = (F.one_hot(target, 2).movedim(-1, 1).double() * 80 - 40).requires_grad_(True)
    out = ilf.tversky_loss(logits, target, gamma=0.5, smooth=0.0)
    (grad,) = torch.autograd.grad(out, logits)
    assert float(out) < 1e-8 and torch.isfinite(grad).all()


# ---------------------------------------------------------------------------------- generalized Dice
def test_generalized_dice_matches_naive_loop():
    logits, target = _inputs(4)
    torch.testing.assert_close(ilf.generalized_dice_loss(logits, target, reduction="none"),
                               naive_generalized_dice(logits, target, 1e-5))


@pytest.mark.parametrize("batch_dice", [False, True])
@pytest.mark.parametrize("include_background", [True, False])
def test_generalized_dice_matches_monai(batch_dice, include_background):
    from monai.losses import GeneralizedDiceLoss as MonaiGDL

    logits, target = _inputs(5)
    ref = MonaiGDL(softmax=True, to_onehot_y=True, batch=batch_dice,
                   include_background=include_background)(logits, target[:, None])
    ours = il.GeneralizedDiceLoss(batch_dice=batch_dice, include_background=include_background)(logits, target)
    # MONAI computes the class weights in float32 (ground_o.float()), hence 1e-9, not 1e-15
    torch.testing.assert_close(ours, ref, rtol=0, atol=1e-8)


def test_generalized_dice_absent_class_gets_largest_finite_weight_and_ignore():
    logits, target = _inputs(6)
    target[2] = 0  # sample 2 holds class 0 only
    everything = torch.full_like(target, -100)
    assert float(ilf.generalized_dice_loss(logits, everything)) == 0.0  # no class present: weights 0, loss 0
    # the absent classes' false positives count with the weight of class 0, the only (and so the largest) one
    p = torch.softmax(logits[2], 0)
    w = 1.0 / 42.0**2
    expected = 1 - (2 * w * p[0].sum() + 1e-5) / (w * (p.sum() + 42.0) + 1e-5)
    torch.testing.assert_close(ilf.generalized_dice_loss(logits, target, reduction="none")[2], expected)


# -------------------------------------------------------------------------------------- Dice + CE
def test_dice_ce_matches_monai():
    from monai.losses import DiceCELoss as MonaiDiceCE

    logits, target = _inputs(7)
    ref = MonaiDiceCE(softmax=True, to_onehot_y=True)(logits, target[:, None])
    torch.testing.assert_close(il.DiceCELoss()(logits, target), ref, rtol=0, atol=1e-12)
    ref = MonaiDiceCE(softmax=True, to_onehot_y=True, lambda_dice=0.3, lambda_ce=2.0, batch=True,
                      include_background=False)(logits, target[:, None])
    ours = ilf.dice_ce_loss(logits, target, lambda_dice=0.3, lambda_ce=2.0, batch_dice=True, include_background=False)
    torch.testing.assert_close(ours, ref, rtol=0, atol=1e-12)


def test_dice_ce_binary_matches_monai_sigmoid():
    from monai.losses import DiceCELoss as MonaiDiceCE

    logits, target = binary(torch.float64, 8, 2.0)
    target = target.clamp_min(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = MonaiDiceCE(sigmoid=True)(logits, target)
    torch.testing.assert_close(ilf.dice_ce_loss(logits, target), ref, rtol=0, atol=1e-12)


def test_dice_ce_carries_class_weights_border_map_and_ignore_index():
    logits, target, pixel_map = multiclass_inputs(torch.float64, 9, 1.5)
    cw = torch.tensor([0.5, 2.0, 1.0, 3.0], dtype=torch.float64)
    for reduction in ("mean", "sum"):
        ours = ilf.dice_ce_loss(logits, target, weight=pixel_map, class_weight=cw, lambda_dice=0.4, lambda_ce=1.5,
                                reduction=reduction)
        dice = ilf.dice_loss(logits, target, reduction=reduction)
        ce = ilf.pixel_cross_entropy(logits, target, weight=pixel_map, class_weight=cw, reduction=reduction)
        torch.testing.assert_close(ours, 0.4 * dice + 1.5 * ce)
    module = il.DiceCELoss(class_weight=cw.float()).double()  # the class weight is a buffer, moved by .double()
    torch.testing.assert_close(module(logits, target, pixel_map),
                               ilf.dice_ce_loss(logits, target, weight=pixel_map, class_weight=cw))
    assert module.class_weight.dtype == torch.float64


# ------------------------------------------------------------------------------------------- Lovász
@pytest.mark.parametrize("per_image", [False, True])
@pytest.mark.parametrize("classes", ["present", "all"])
def test_lovasz_matches_authors_reference(per_image, classes):
    logits, target = _inputs(10)
    target[1, :2] = 255
    probs = torch.softmax(logits, 1)
    ref = berman_lovasz_softmax(probs, target, classes=classes, per_image=per_image, ignore=255)
    x = logits.clone().requires_grad_(True)
    ours = ilf.lovasz_softmax_loss(x, target, per_image=per_image, classes=classes, ignore_index=255)
    torch.testing.assert_close(ours, ref)
    y = logits.clone().requires_grad_(True)
    ref = berman_lovasz_softmax(torch.softmax(y, 1), target, classes=classes, per_image=per_image, ignore=255)
    torch.testing.assert_close(torch.autograd.grad(ours, x)[0], torch.autograd.grad(ref, y)[0])


def test_lovasz_matches_kornia():
    from kornia.losses import lovasz_softmax_loss as kornia_lovasz

    for seed, shape in [(11, (3, 4, 7, 6)), (12, (2, 5, 16, 16))]:
        logits, target = _inputs(seed, *shape)
        x = logits.clone().requires_grad_(True)
        y = logits.clone().requires_grad_(True)
        ours = il.LovaszSoftmaxLoss(per_image=True, classes="all")(x, target)
        ref = kornia_lovasz(y, target)
        torch.testing.assert_close(ours, ref, rtol=0, atol=1e-12)
        torch.testing.assert_close(torch.autograd.grad(ours, x)[0], torch.autograd.grad(ref, y)[0])


@pytest.mark.parametrize("scale", [0.0, 3.0])  # 0: every error tied
def test_lovasz_float32_radix_order_matches_kornia_and_float64(scale):
    """float32 on the CPU sorts by one integer key (radix sort): the value of the row-wise float64 sort."""
    from kornia.losses import lovasz_softmax_loss as kornia_lovasz

    logits, target = _inputs(16, 2, 5, 128, 128, scale=scale)
    target[0, :3] = -100
    x = logits.float().requires_grad_(True)
    for per_image in (False, True):
        ours = ilf.lovasz_softmax_loss(x, target, per_image=per_image, classes="all")
        ref = ilf.lovasz_softmax_loss(x.detach().double(), target, per_image=per_image, classes="all")
        torch.testing.assert_close(ours.double(), ref, rtol=1e-6, atol=1e-7)
    counted = target.clamp_min(0)
    y = logits.float().requires_grad_(True)
    ours = ilf.lovasz_softmax_loss(x, counted, per_image=True, classes="all")
    ref = kornia_lovasz(y, counted)
    torch.testing.assert_close(ours, ref, rtol=1e-5, atol=1e-6)
    if scale:  # without ties the gradient is unique
        torch.testing.assert_close(torch.autograd.grad(ours, x)[0], torch.autograd.grad(ref, y)[0], rtol=1e-4,
                                   atol=1e-7)


def test_lovasz_binary_is_two_class_softmax_and_half_precision_matches():
    logits, target = binary(torch.float64, 13, 2.0)
    two = torch.cat([torch.zeros_like(logits), logits], 1)
    labels = target[:, 0].long()  # -100 stays -100
    torch.testing.assert_close(ilf.lovasz_softmax_loss(logits, target, per_image=True),
                               ilf.lovasz_softmax_loss(two, labels, per_image=True))
    # a real size: float32 and bfloat16 inputs give the float64 value of the same rounded logits
    g = torch.Generator().manual_seed(14)
    big = torch.randn(2, 3, 256, 256, generator=g) * 3
    labels = torch.randint(0, 3, (2, 256, 256), generator=g)
    for dtype in (torch.float32, torch.bfloat16):
        x = big.to(dtype)
        ref = ilf.lovasz_softmax_loss(x.double(), labels)
        torch.testing.assert_close(ilf.lovasz_softmax_loss(x, labels).double(), ref, rtol=2e-6 if dtype ==
                                   torch.float32 else 1e-2, atol=0)


def test_lovasz_all_ignored_and_perfect_prediction_are_zero():
    logits, target = _inputs(15)
    x = logits.clone().requires_grad_(True)
    out = ilf.lovasz_softmax_loss(x, torch.full_like(target, -100), per_image=True)
    (grad,) = torch.autograd.grad(out, x)
    assert float(out) == 0.0 and torch.count_nonzero(grad) == 0
    perfect = F.one_hot(target, 4).movedim(-1, 1).double() * 80 - 40
    assert float(ilf.lovasz_softmax_loss(perfect, target)) < 1e-12


# ------------------------------------------------------------------------------- the functions, compiled
@pytest.mark.parametrize("fn", [ilf.pixel_cross_entropy, ilf.dice_loss, ilf.focal_loss, ilf.tversky_loss,
                                ilf.generalized_dice_loss, ilf.dice_ce_loss, ilf.lovasz_softmax_loss])
def test_functions_trace_under_compile_fullgraph(fn):
    """The functions (not only the modules) build their options inside a compiled model."""
    torch._dynamo.reset()
    logits, target = multiclass(torch.float32, 17, 1.0)
    compiled = torch.compile(lambda x, y: fn(x, y, reduction="sum"), backend="aot_eager", fullgraph=True)
    torch.testing.assert_close(compiled(logits, target), fn(logits, target, reduction="sum"))


# ------------------------------------------------------------------------------- probability targets
def _soft_case(seed):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(2, 3, 4, 5, generator=g, dtype=torch.float64) * 2
    labels = torch.randint(0, 3, (2, 4, 5), generator=g)
    soft = torch.softmax(torch.randn(2, 3, 4, 5, generator=g, dtype=torch.float64) * 2, 1)
    return logits, labels, F.one_hot(labels, 3).movedim(-1, 1).double(), soft


@pytest.mark.parametrize(("fn", "module", "kwargs"), [
    (ilf.tversky_loss, il.TverskyLoss, {"alpha": 0.3, "beta": 0.7, "gamma": 0.75, "include_background": False}),
    (ilf.generalized_dice_loss, il.GeneralizedDiceLoss, {"batch_dice": True}),
    # (not with class weights: the cross-entropy's "mean" of probability targets divides by the pixel count, torch's
    # convention, of class indices by the sum of the weights)
    (ilf.dice_ce_loss, il.DiceCELoss, {"label_smoothing": 0.1, "batch_dice": True}),
], ids=["tversky", "generalized_dice", "dice_ce"])
def test_overlap_one_hot_float_target_equals_integer_labels(fn, module, kwargs):
    logits, labels, onehot, _ = _soft_case(0)
    expected = fn(logits, labels, **kwargs)
    torch.testing.assert_close(fn(logits, onehot, **kwargs), expected)
    torch.testing.assert_close(module(**kwargs)(logits, onehot), expected)


def test_tversky_soft_target_matches_naive_formula():
    logits, _, _, soft = _soft_case(1)
    p = torch.softmax(logits, 1)
    expected = torch.zeros(2, 3, dtype=torch.float64)
    for i in range(2):
        for k in range(3):
            pk, gk = p[i, k].flatten().tolist(), soft[i, k].flatten().tolist()
            tp = sum(a * b for a, b in zip(pk, gk, strict=True))
            fp = sum(a * (1 - b) for a, b in zip(pk, gk, strict=True))
            fn = sum((1 - a) * b for a, b in zip(pk, gk, strict=True))
            expected[i, k] = 1 - (tp + 1e-5) / (tp + 0.3 * fp + 0.7 * fn + 1e-5)
    torch.testing.assert_close(ilf.tversky_loss(logits, soft, alpha=0.3, beta=0.7, reduction="none"), expected)
    # Dice + CE of a soft target: the soft Dice plus the soft cross-entropy
    torch.testing.assert_close(ilf.dice_ce_loss(logits, soft),
                               ilf.dice_loss(logits, soft) + ilf.pixel_cross_entropy(logits, soft))


def test_lovasz_refuses_a_probability_target_without_offering_one():
    logits, _, onehot, _ = _soft_case(2)
    with pytest.raises(TypeError, match=r"^target: expected an integer tensor of class indices for 3-class logits "
                                        r"\(floating \(N, \*\) targets are for binary \(N, 1, \*\) logits\), got dtype "
                                        r"torch\.float64 shape \(2, 3, 4, 5\)$"):
        ilf.lovasz_softmax_loss(logits, onehot)
