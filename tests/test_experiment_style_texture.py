"""The style-texture experiment: its quick run, its verdict rule and its tile shuffle."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from imagelosses.experiments import style_texture
from imagelosses.experiments.base import Summary
from imagelosses.losses.style import gram_matrix
from tests.experiment_support import run_quick
from tests.vgg_fixtures import oxford_cache  # noqa: F401  (fixture)

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.mark.usefixtures("oxford_cache")
def test_style_texture_quick_runs(tmp_path: Path) -> None:
    out = run_quick(style_texture.EXPERIMENT, tmp_path)
    assert out.metrics["worst_style_end_log10_gram"] < 0  # the optimisation lowered the Gram distance
    # a larger β trades content for style even after 8 steps
    assert out.metrics["log10_gram_ratio_chelsea_brick_b100"] < out.metrics["log10_gram_ratio_chelsea_brick_b1"]
    assert out.metrics["content_ratio_chelsea_brick_b100"] > out.metrics["content_ratio_chelsea_brick_b1"]



def test_style_texture_verdict() -> None:
    v = style_texture.verdict
    good = {"monotone_pairs": [1.0], "worst_style_end_log10_gram": [-2.5], "worst_content_end_ratio": [0.2],
            "log10_gram_ratio_texture": [-3.0]}
    assert v(Summary(good)).label == "holds"
    assert v(Summary({**good, "monotone_pairs": [0.25]})).label == "does not hold at this scale"
    assert v(Summary({**good, "worst_style_end_log10_gram": [-0.5]})).label == "does not hold at this scale"
    assert v(Summary({**good, "log10_gram_ratio_texture": [-0.5]})).label == "does not hold at this scale"
    assert v(Summary({**good, "worst_content_end_ratio": [1.5]})).label == "does not hold at this scale"
    assert v(Summary({**good, "monotone_pairs": [0.75]})).label == "inconclusive"
    assert v(Summary({**good, "worst_style_end_log10_gram": [-1.5]})).label == "inconclusive"
    assert v(Summary({**good, "worst_content_end_ratio": [0.4]})).label == "inconclusive"



def test_shuffle_tiles_keeps_the_pixels_and_the_gram_of_pixels() -> None:
    x = torch.rand(1, 3, 16, 16)
    y = style_texture.shuffle_tiles(x, 4, torch.Generator().manual_seed(1))
    assert not torch.equal(x, y)
    assert torch.equal(x.flatten(2).sort(dim=2).values, y.flatten(2).sort(dim=2).values)
    torch.testing.assert_close(gram_matrix(x), gram_matrix(y))  # a Gram ignores where the values are
    tiles = {tuple(y[0, :, i:i + 4, j:j + 4].flatten().tolist()) for i in range(0, 16, 4) for j in range(0, 16, 4)}
    assert tiles == {tuple(x[0, :, i:i + 4, j:j + 4].flatten().tolist()) for i in range(0, 16, 4)
                     for j in range(0, 16, 4)}

