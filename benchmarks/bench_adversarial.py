"""Gradient-penalty benchmark: ``gradient_penalty`` (WGAN-GP and R1) against a bare hand-written double backward
on a small conv critic, forward + the double backward into the critic's parameters.

Run: ``python benchmarks/bench_adversarial.py [--quick]``. Method in benchmarks/README.md. The ratio to the
hand-written version must stay at or below 1.10 (the penalty adds only argument checks).
"""

from __future__ import annotations

import torch
from torch import nn

from benchmarks._common import Row, quick_flag, seed_all, timed_rows, with_ratios, write
from imagelosses.losses.penalties import gradient_penalty

BASELINE = "hand-written autograd.grad double backward"
OURS = "imagelosses.gradient_penalty"


def _critic() -> nn.Module:
    return nn.Sequential(nn.Conv2d(3, 32, 4, 2, 1), nn.LeakyReLU(0.2), nn.Conv2d(32, 64, 4, 2, 1), nn.LeakyReLU(0.2),
                         nn.Conv2d(64, 1, 4, 1, 0), nn.Flatten())


def _hand_wgan_gp(critic: nn.Module, real: torch.Tensor, fake: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
    x = (real + eps * (fake - real)).requires_grad_(True)
    (g,) = torch.autograd.grad(critic(x).sum(), x, create_graph=True)
    return 10.0 * ((g.flatten(1).norm(dim=1) - 1) ** 2).mean()


def _hand_r1(critic: nn.Module, real: torch.Tensor) -> torch.Tensor:
    x = real.detach().requires_grad_(True)
    (g,) = torch.autograd.grad(critic(x).sum(), x, create_graph=True)
    return 5.0 * g.flatten(1).square().sum(1).mean()


def _rows(n: int, size: int, repeats: int) -> list[Row]:
    seed_all(0)
    critic = _critic()
    real, fake = torch.rand(n, 3, size, size), torch.rand(n, 3, size, size)
    eps = torch.rand(n, 1, 1, 1, generator=torch.Generator().manual_seed(1))

    def ours_gp() -> torch.Tensor:
        return gradient_penalty(critic, real, fake, generator=torch.Generator().manual_seed(1))

    def ours_r1() -> torch.Tensor:
        return gradient_penalty(critic, real, kind="r1")

    torch.testing.assert_close(ours_gp(), _hand_wgan_gp(critic, real, fake, eps))
    torch.testing.assert_close(ours_r1(), _hand_r1(critic, real))
    rows = []
    for penalty, impls in (
        ("WGAN-GP", {BASELINE: lambda: _hand_wgan_gp(critic, real, fake, eps), OURS: ours_gp}),
        ("R1", {BASELINE: lambda: _hand_r1(critic, real), OURS: ours_r1}),
    ):
        case = f"{penalty}, {n}×3×{size}×{size}, fwd + double bwd"
        rows += timed_rows("gradient_penalty", case, impls, None, repeats=repeats)
    return rows


def bench_penalty(quick: bool) -> str:
    shapes = [(16, 32)] if quick else [(16, 32), (32, 64)]
    rows = [row for n, size in shapes for row in _rows(n, size, 5 if quick else 9)]
    rows = with_ratios(rows, BASELINE)
    worst = max(r.ratio for r in rows if r.ratio is not None and r.impl != BASELINE)
    notes = (f"Same critic, inputs and ε (checked equal before timing). Worst ratio {worst:.3f} (bound 1.10). "
             f"The median of three interleaved medians per implementation. CPU threads: {torch.get_num_threads()}.")
    return write("adversarial", rows, "Gradient penalty (forward + double backward), CPU", BASELINE, notes)


def main(argv: list[str] | None = None) -> None:
    quick = quick_flag(__doc__, argv)
    print(bench_penalty(quick))


if __name__ == "__main__":
    main()
