"""GAN objectives on 2-D mixtures: the saturation of the minimax generator, and what each objective covers.

Data (VEEGAN, arXiv 1705.07761, Section 5.1, after Metz et al., arXiv 1611.02163): the **ring** of 8 Gaussians
with means ``2·(cos 2πk/8, sin 2πk/8)`` and the **grid** of 25 Gaussians with means ``(−4 + 2i, −4 + 2j)``,
``i, j ∈ {0, …, 4}``, every component of standard deviation σ = 0.02, equal weights.

Measures (VEEGAN's and PacGAN's protocol, arXiv 1712.04086, Section 5, as we read it; the constants are
``N_EVAL``, ``HQ_STDS`` and ``MIN_MODE_SAMPLES`` below): draw 2,500 samples from the trained generator; a
sample is **high-quality** when it lies within 3σ of its nearest mode's centre; a mode is **covered** when at
least 20 high-quality samples are assigned to it. (Our copy of the papers could not be checked offline for
the threshold of 20; it is stated here so the reader can change it.)

Every objective trains the same generator and discriminator (MLPs, same widths and initial weights per
seed), the same number of generator steps on the same data stream: minimax (saturating), non-saturating,
LSGAN (0-1 coding), WGAN (weight clipping c = 0.01, RMSprop, the official critic schedule), WGAN-GP (λ = 10,
5 critic steps, Adam(β = 0.5, 0.9)) and hinge.

Saturation probe: from the common initial networks, train D alone against the fixed initial generator for
``probe_steps`` steps, so it confidently rejects the fakes, then measure the generator's gradient norm
‖∇_θ L_G‖ under the minimax and the non-saturating loss at that same (G, D). Goodfellow et al. (Section 3)
say the first vanishes and the second does not.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch import Tensor, nn

from ..losses.adversarial import clip_weights_, discriminator_loss, generator_loss, wgan_critic_iterations
from ..losses.penalties import gradient_penalty
from ..metrics.modes import mode_coverage
from .base import Experiment, Figure, RunContext, RunOutput, Summary, Verdict, decide, single_thread
from .data import save_pyplot_figure

N_EVAL = 2500
HQ_STDS = 3.0
MIN_MODE_SAMPLES = 20
STD = 0.02
OBJECTIVES = ("minimax", "nonsaturating", "lsgan", "wgan", "wgan-gp", "hinge")
DATASETS = ("ring", "grid")




def mode_centres(dataset: str) -> Tensor:
    if dataset == "ring":
        angle = torch.arange(8, dtype=torch.float32) * (2 * math.pi / 8)
        return 2.0 * torch.stack([angle.cos(), angle.sin()], 1)
    grid = torch.arange(5, dtype=torch.float32) * 2.0 - 4.0
    return torch.cartesian_prod(grid, grid)


def sample_data(centres: Tensor, n: int, generator: torch.Generator) -> Tensor:
    idx = torch.randint(len(centres), (n,), generator=generator)
    return centres[idx] + STD * torch.randn(n, 2, generator=generator)


def _mlp(inp: int, width: int, out: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(inp, width), nn.ReLU(), nn.Linear(width, width), nn.ReLU(), nn.Linear(width, out))


def _grad_norm(loss: Tensor, params: list[nn.Parameter]) -> float:
    grads = torch.autograd.grad(loss, params)
    return float(torch.sqrt(sum((g.square().sum() for g in grads), torch.zeros(()))))


def _losses(objective: str) -> tuple[Callable[[Tensor, Tensor], Tensor], Callable[[Tensor], Tensor]]:
    kind = {"wgan-gp": "wgan"}.get(objective, objective)
    return (lambda r, f: discriminator_loss(r, f, kind=kind)), (lambda f: generator_loss(f, kind=kind))  # type: ignore[arg-type]


def train(objective: str, dataset: str, config: Mapping[str, Any], seed: int, snapshots: list[int],
          progress: Callable[[], None]) -> dict[str, Any]:
    """Train one objective; returns samples at ``snapshots`` (generator steps), final metrics, early grads."""
    centres = mode_centres(dataset)
    torch.manual_seed(seed)  # the same initial networks for every objective of this seed
    gen, disc = _mlp(config["z_dim"], config["width"], 2), _mlp(2, config["width"], 1)
    data_g = torch.Generator().manual_seed(seed + 1)
    noise_g = torch.Generator().manual_seed(seed + 2)
    if objective == "wgan":
        opt_d: torch.optim.Optimizer = torch.optim.RMSprop(disc.parameters(), lr=config["wgan_lr"], foreach=True)
        opt_g: torch.optim.Optimizer = torch.optim.RMSprop(gen.parameters(), lr=config["wgan_lr"], foreach=True)
    else:
        betas = (0.5, 0.9) if objective == "wgan-gp" else (0.5, 0.999)
        opt_d = torch.optim.Adam(disc.parameters(), lr=config["lr"], betas=betas, foreach=True)
        opt_g = torch.optim.Adam(gen.parameters(), lr=config["lr"], betas=betas, foreach=True)
    d_loss_fn, g_loss_fn = _losses(objective)
    batch, z_dim = config["batch"], config["z_dim"]
    shots: dict[int, Tensor] = {}
    early: list[float] = []
    eval_z = torch.randn(N_EVAL, z_dim, generator=torch.Generator().manual_seed(seed + 3))
    for step in range(config["steps"]):
        if step in snapshots:
            with torch.no_grad():
                shots[step] = gen(eval_z[:500]).clone()
        if objective == "wgan":
            n_critic = wgan_critic_iterations(step, warmup_iterations=config["wgan_warmup_iterations"])
        else:
            n_critic = config["n_critic_gp"] if objective == "wgan-gp" else 1
        for _ in range(n_critic):
            real = sample_data(centres, batch, data_g)
            with torch.no_grad():
                fake = gen(torch.randn(batch, z_dim, generator=noise_g))
            loss = d_loss_fn(disc(real), disc(fake))
            if objective == "wgan-gp":
                loss = loss + gradient_penalty(disc, real, fake, generator=noise_g)
            opt_d.zero_grad(set_to_none=True)
            torch.autograd.backward(loss)
            opt_d.step()
            if objective == "wgan":
                clip_weights_(disc, 0.01)
        g_loss = g_loss_fn(disc(gen(torch.randn(batch, z_dim, generator=noise_g))))
        opt_g.zero_grad(set_to_none=True)
        torch.autograd.backward(g_loss)
        if step < config["early_steps"]:
            early.append(float(torch.sqrt(sum((p.grad.square().sum() for p in gen.parameters()
                                                if p.grad is not None), torch.zeros(())))))
        opt_g.step()
        progress()
    with torch.no_grad():
        final = gen(eval_z)
    shots[config["steps"]] = final[:500].clone()
    modes, hq, _ = mode_coverage(final, centres, STD, hq_stds=HQ_STDS, min_samples=MIN_MODE_SAMPLES)
    return {"modes": modes, "hq": hq, "early_grad": sum(early) / max(len(early), 1), "shots": shots}


def saturation_probe(dataset: str, config: Mapping[str, Any], seed: int) -> tuple[float, float]:
    """(minimax, non-saturating) generator gradient norms after D alone has learnt to reject the initial G."""
    centres = mode_centres(dataset)
    torch.manual_seed(seed)
    gen, disc = _mlp(config["z_dim"], config["width"], 2), _mlp(2, config["width"], 1)
    g = torch.Generator().manual_seed(seed + 4)
    opt = torch.optim.Adam(disc.parameters(), lr=config["lr"], betas=(0.5, 0.999))
    z = torch.randn(config["batch"], config["z_dim"], generator=g)
    for _ in range(config["probe_steps"]):
        with torch.no_grad():
            fake = gen(z)
        loss = discriminator_loss(disc(sample_data(centres, config["batch"], g)), disc(fake), kind="minimax")
        opt.zero_grad(set_to_none=True)
        torch.autograd.backward(loss)
        opt.step()
    params = list(gen.parameters())
    scores = disc(gen(z))
    minimax = _grad_norm(generator_loss(scores, kind="minimax"), params)
    nonsat = _grad_norm(generator_loss(disc(gen(z)), kind="nonsaturating"), params)
    return minimax, nonsat


def run(ctx: RunContext) -> RunOutput:
    with single_thread():
        return _run(ctx)


def _run(ctx: RunContext) -> RunOutput:
    config = ctx.config
    steps = config["steps"]
    snapshots = [0, steps // 4, steps // 2]
    total = len(DATASETS) * len(OBJECTIVES) * steps
    done = 0

    def tick() -> None:
        nonlocal done
        done += 1
        if done % 50 == 0 or done == total:
            ctx.progress(done, total)

    metrics: dict[str, float] = {}
    rows: list[list[Any]] = [["dataset", "objective", "modes covered", "high-quality %", "early ‖∇G‖", "seconds"]]
    figures = []
    for dataset in DATASETS:
        minimax, nonsat = saturation_probe(dataset, config, ctx.seed)
        metrics[f"{dataset}/probe_grad_minimax"] = minimax
        metrics[f"{dataset}/probe_grad_nonsaturating"] = nonsat
        metrics[f"{dataset}/probe_ratio"] = nonsat / max(minimax, 1e-30)
        results = {}
        for objective in OBJECTIVES:
            start = time.perf_counter()
            res = train(objective, dataset, config, ctx.seed, snapshots, tick)
            results[objective] = res
            for key in ("modes", "hq", "early_grad"):
                metrics[f"{dataset}/{objective}/{key}"] = float(res[key])
            rows.append([dataset, objective, res["modes"], round(100 * res["hq"], 1), f"{res['early_grad']:.3g}",
                         round(time.perf_counter() - start, 1)])
        if ctx.make_figures:
            figures.append(_scatter(ctx, dataset, results, [*snapshots, steps]))
    return RunOutput(metrics=metrics, figures=figures, tables={"GAN objectives (this seed)": rows})


def _scatter(ctx: RunContext, dataset: str, results: dict[str, dict[str, Any]], steps: list[int]) -> Figure:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    centres = mode_centres(dataset)
    lim = 3.0 if dataset == "ring" else 5.5
    fig, axes = plt.subplots(len(OBJECTIVES), len(steps), figsize=(1.7 * len(steps), 1.7 * len(OBJECTIVES)),
                             sharex=True, sharey=True)
    for i, objective in enumerate(OBJECTIVES):
        for j, step in enumerate(steps):
            ax = axes[i, j]
            pts = results[objective]["shots"][step]
            ax.scatter(centres[:, 0], centres[:, 1], s=12, c="tab:red", marker="x", linewidths=0.8)
            ax.scatter(pts[:, 0], pts[:, 1], s=1, c="tab:blue", alpha=0.4)
            ax.set_xlim(-lim, lim)
            ax.set_ylim(-lim, lim)
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_title(f"step {step}", fontsize=7)
            if j == 0:
                ax.set_ylabel(objective, fontsize=7)
    return save_pyplot_figure(fig, ctx.out_dir / f"gan_objectives_{dataset}_seed{ctx.seed}.png", dpi=80, title_size=7,
                              title=f"{dataset}: 500 generator samples (blue) and mode centres (red ×), x, y in "
                                    "data units",
                              caption=f"{dataset}: generator samples over training (columns: generator steps), one row "
                                      "per objective; same networks, steps and seed; axes in data units.")


def verdict(summary: Summary) -> Verdict:
    ratios = [summary.mean(f"{d}/probe_ratio") for d in DATASETS]
    saturates = all(summary.all(f"{d}/probe_ratio", lambda r: r >= 10.0) for d in DATASETS)
    modes = {d: {o: summary.mean(f"{d}/{o}/modes") for o in OBJECTIVES} for d in DATASETS}
    # the mode part counts only when the non-saturating generator covers some mode (0 ≥ 0 proves nothing)
    ns_ge_mm = all(modes[d]["nonsaturating"] >= modes[d]["minimax"] and modes[d]["nonsaturating"] > 0
                   for d in DATASETS)
    reason = (f"‖∇G‖ non-saturating / minimax after D learns to reject: ring {ratios[0]:.3g}×, grid {ratios[1]:.3g}× "
              f"(rule: ≥ 10× in every seed); modes covered (mean): "
              + "; ".join(f"{d}: " + ", ".join(f"{o} {m:.1f}" for o, m in modes[d].items()) for d in DATASETS))
    return decide(reason, holds=saturates and ns_ge_mm, fails=not saturates and all(r < 10.0 for r in ratios))


EXPERIMENT = Experiment(
    name="gan-objectives",
    title="GAN objectives on the ring of 8 and the 5×5 grid of Gaussians",
    claim="The minimax (saturating) generator gets a vanishing gradient once the discriminator confidently "
          "rejects its samples, the non-saturating one does not (Goodfellow et al. 2014, Section 3); at equal "
          "networks and steps the non-saturating objective covers at least as many modes.",
    paper="Goodfellow et al. 2014 (arXiv 1406.2661); Mao et al. 2017 (1611.04076); Arjovsky et al. 2017 "
          "(1701.07875); Gulrajani et al. 2017 (1704.00028); Lim & Ye 2017 (1705.02894); measures of VEEGAN "
          "(1705.07761) and PacGAN (1712.04086).",
    setup="2-D ring (8 modes, radius 2) and grid (25 modes, spacing 2), σ = 0.02; MLP generator and "
          "discriminator, 2 hidden ReLU layers; minimax, non-saturating, LSGAN, WGAN (clipping 0.01, RMSprop, "
          "100 critic steps for the first 25 generator steps and every 500th, else 5), WGAN-GP (λ = 10, 5 critic "
          "steps), hinge; same initial weights, data stream, generator steps and seed; 2,500 samples scored: "
          "high-quality within 3σ of a mode, a mode covered with ≥ 20 of them.",
    rule="holds if the non-saturating/minimax generator-gradient ratio of the saturation probe is ≥ 10 on both "
         "datasets in every seed and the non-saturating objective covers at least as many modes as minimax "
         "and at least one mode (mean over seeds, both datasets); does not hold if the ratio's mean is < 10 on "
         "both datasets; inconclusive otherwise.",
    full={"steps": 1000, "batch": 128, "width": 128, "z_dim": 8, "lr": 5e-4, "wgan_lr": 5e-4,
          "wgan_warmup_iterations": 100, "n_critic_gp": 5, "early_steps": 50, "probe_steps": 200},
    quick={"steps": 30, "batch": 64, "width": 32, "z_dim": 8, "lr": 1e-3, "wgan_lr": 5e-4,
           "wgan_warmup_iterations": 5, "n_critic_gp": 2, "early_steps": 10, "probe_steps": 40},
    run=run,
    verdict=verdict,
    seeds=2,
)
