"""GAN objectives on the ring of 8 Gaussians: does the minimax generator stall early in training, as Goodfellow
et al. (2014, arXiv 1406.2661, Section 3) say, where the non-saturating one learns?

Goodfellow's argument: "Early in learning, when G is poor, D can reject samples with high confidence because
they are clearly different from the training data. In this case, log(1 − D(G(z))) saturates. Rather than
training G to minimize log(1 − D(G(z))) we can train G to maximize log D(G(z))", which "provides much stronger
gradients early in learning". Two parts test it, both from the same state: the seed's initial generator G₀ and a
discriminator D₀ pre-trained (``pretrain_steps`` steps of SGD with momentum on fresh batches) to reject G₀'s
samples.

1. **Saturation probe** (:func:`generator_gradient_norms`): at (G₀, D₀), the norm ‖∇_θ L_G‖ of the generator's
   gradient under the minimax loss ``E log(1 − D(G(z)))`` and under the non-saturating loss ``−E log D(G(z))``,
   on ``eval_samples`` held-out noise vectors. Their ratio (non-saturating / minimax) is the probe's number.
2. **Early dynamics** (:func:`early_dynamics`): from (G₀, D₀), train both networks, alternating one D step and
   one G step as in Algorithm 1 (k = 1), with SGD with momentum (Goodfellow: "We used momentum in our
   experiments"), once with the minimax and once with the non-saturating generator loss; same learning rates,
   steps, and the same data and noise batches in both arms (D's loss is the same in both). Every ``eval_every``
   steps, each of the ``eval_samples`` held-out noise vectors z is mapped to G(z) and its distance to the nearest
   mode centre is taken (:func:`nearest_mode_distance`). A sample's **early progress** is its distance at step 0
   minus its mean distance over the checkpoints of the first ``early_steps`` steps (the area between its
   progress curve and the start, per step: the further and the sooner it moves toward the data, the larger).
   The two arms are paired by noise vector; :func:`base.paired_bootstrap` gives the interval of the mean
   difference (non-saturating − minimax).

Guards (in the verdict's reason, not in the rule): D₀'s mean probability on G₀'s held-out samples (the probe is
only meaningful if D₀ rejects them), and the energy distance (:func:`energy_distance`) between each arm's
samples at step ``early_steps`` and held-out real samples (nearest-mode distance alone would reward collapsing
onto one mode).

Descriptive (never in the verdict): mode coverage of the ring after ``coverage_steps`` Adam steps per objective
(minimax, non-saturating, LSGAN, hinge), from the same initial networks and data stream, scored as in
VEEGAN (arXiv 1705.07761, Section 5.1) and PacGAN (arXiv 1712.04086, Section 5): draw ``N_EVAL`` = 2,500
samples; a sample is **high-quality** within ``HQ_STDS`` = 3σ of its nearest mode centre; a mode is
**covered** with at least ``MIN_MODE_SAMPLES`` = 20 high-quality samples (our reading; the threshold could not
be checked offline, so it is stated here).

Data (VEEGAN, after Metz et al., arXiv 1611.02163): the ring of 8 Gaussians with means
``2·(cos 2πk/8, sin 2πk/8)``, standard deviation σ = 0.02, equal weights (:func:`mode_centres` also gives the
5×5 grid, ``(−4 + 2i, −4 + 2j)``, which this experiment no longer trains on).
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch import Tensor, nn

from ..losses.adversarial import GANKind, discriminator_loss, generator_loss
from ..metrics.modes import mode_coverage
from .base import (
    Experiment,
    Figure,
    Interval,
    RunContext,
    RunOutput,
    Summary,
    Verdict,
    decide,
    paired_bootstrap,
    paired_differences,
    single_thread,
)
from .figures import save_pyplot_figure

N_EVAL = 2500
HQ_STDS = 3.0
MIN_MODE_SAMPLES = 20
STD = 0.02
#: The two generator losses of the probe and the early-dynamics test.
ARMS: tuple[GANKind, ...] = ("minimax", "nonsaturating")
#: The objectives of the descriptive coverage run. WGAN (clipping) and WGAN-GP are left out: their 5 critic steps
#: per generator step cost about 5× the time of the others (28 s of CPU for WGAN-GP at 2,500 steps in pilot seed
#: 100, where it covered no mode), more than the time budget allows.
COVERAGE_OBJECTIVES: tuple[GANKind, ...] = ("minimax", "nonsaturating", "lsgan", "hinge")
#: The probe's threshold: the non-saturating gradient at least this many times the minimax one, in every seed.
PROBE_RATIO = 10.0
BOOTSTRAP_RESAMPLES = 2000


def mode_centres(dataset: str) -> Tensor:
    """The ``(8, 2)`` ring or ``(25, 2)`` grid mode centres."""
    if dataset == "ring":
        angle = torch.arange(8, dtype=torch.float32) * (2 * math.pi / 8)
        return 2.0 * torch.stack([angle.cos(), angle.sin()], 1)
    grid = torch.arange(5, dtype=torch.float32) * 2.0 - 4.0
    return torch.cartesian_prod(grid, grid)


def sample_data(centres: Tensor, n: int, generator: torch.Generator) -> Tensor:
    """``n`` samples of the equal-weight mixture of Gaussians of standard deviation ``STD`` at ``centres``."""
    idx = torch.randint(len(centres), (n,), generator=generator)
    return centres[idx] + STD * torch.randn(n, 2, generator=generator)


def nearest_mode_distance(samples: Tensor, centres: Tensor) -> Tensor:
    """``(N,)``: the Euclidean distance of each sample to its nearest mode centre."""
    return torch.cdist(samples.double(), centres.double()).min(dim=1).values


def energy_distance(x: Tensor, y: Tensor) -> float:
    """The energy distance between the empirical distributions of ``x`` ``(N, D)`` and ``y`` ``(M, D)``:
    ``2·E‖X − Y‖ − E‖X − X'‖ − E‖Y − Y'‖``, every expectation over all pairs (the V-statistic: ≥ 0, and 0 for
    identical sample sets; ``2‖a − b‖`` for two point masses)."""
    x, y = x.double(), y.double()
    return float(2 * torch.cdist(x, y).mean() - torch.cdist(x, x).mean() - torch.cdist(y, y).mean())


def _mlp(inp: int, width: int, out: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(inp, width), nn.ReLU(), nn.Linear(width, width), nn.ReLU(), nn.Linear(width, out))


def _networks(config: Mapping[str, Any], seed: int) -> tuple[nn.Sequential, nn.Sequential]:
    """The seed's initial generator and discriminator (the same for every part of the experiment)."""
    torch.manual_seed(seed)
    return _mlp(config["z_dim"], config["width"], 2), _mlp(2, config["width"], 1)


def _norm(grads: tuple[Tensor, ...]) -> float:
    return float(torch.sqrt(sum((g.double().square().sum() for g in grads), torch.zeros((), dtype=torch.float64))))


def generator_gradient_norms(gen: nn.Module, disc: nn.Module, z: Tensor) -> dict[str, float]:
    """``{loss: ‖∇_θ L_G‖}`` for the minimax and the non-saturating generator loss at the same (G, D), the mean
    over the noise vectors ``z`` (the saturation probe)."""
    params = [p for p in gen.parameters() if p.requires_grad]
    return {kind: _norm(torch.autograd.grad(generator_loss(disc(gen(z)), kind=kind), params)) for kind in ARMS}


def _d_step(gen: nn.Module, disc: nn.Module, opt: torch.optim.Optimizer, centres: Tensor, batch: int, z_dim: int,
            stream: torch.Generator) -> None:
    with torch.no_grad():
        fake = gen(torch.randn(batch, z_dim, generator=stream))
    loss = discriminator_loss(disc(sample_data(centres, batch, stream)), disc(fake), kind="minimax")
    opt.zero_grad(set_to_none=True)
    torch.autograd.backward(loss)
    opt.step()


def pretrain_discriminator(config: Mapping[str, Any], seed: int,
                           progress: Callable[[], None] = lambda: None) -> tuple[nn.Sequential, nn.Sequential]:
    """(G₀, D₀): the seed's initial generator, and its discriminator after ``pretrain_steps`` SGD-with-momentum
    steps (lr ``lr_d``) of the discriminator's loss against G₀'s samples, fresh data and noise every step."""
    gen, disc = _networks(config, seed)
    centres = mode_centres("ring")
    stream = torch.Generator().manual_seed(seed + 4)
    opt = torch.optim.SGD(disc.parameters(), lr=config["lr_d"], momentum=config["momentum"])
    for _ in range(config["pretrain_steps"]):
        _d_step(gen, disc, opt, centres, config["batch"], config["z_dim"], stream)
        progress()
    return gen, disc


def early_dynamics(gen0: nn.Module, disc0: nn.Module, config: Mapping[str, Any], seed: int, eval_z: Tensor,
                   progress: Callable[[], None] = lambda: None) -> dict[str, dict[str, Any]]:
    """Train copies of (G₀, D₀) for ``early_steps`` alternating steps (D then G, k = 1) with SGD with momentum under
    each generator loss of ``ARMS``, the same batches in both arms. Returns per arm: ``steps`` (the checkpoints,
    0 first), ``curve`` (mean nearest-mode distance at each checkpoint), ``distances`` (``(K + 1, N)``, per
    checkpoint and held-out noise vector), ``grad`` (‖∇_θ L_G‖ at every step) and ``final`` (the samples at the
    last step)."""
    centres = mode_centres("ring")
    batch, z_dim, every = config["batch"], config["z_dim"], config["eval_every"]
    out: dict[str, dict[str, Any]] = {}
    for kind in ARMS:
        gen, disc = copy.deepcopy(gen0), copy.deepcopy(disc0)
        opt_g = torch.optim.SGD(gen.parameters(), lr=config["lr_g"], momentum=config["momentum"])
        opt_d = torch.optim.SGD(disc.parameters(), lr=config["lr_d"], momentum=config["momentum"])
        params = list(gen.parameters())
        stream = torch.Generator().manual_seed(seed + 6)  # the same batches in both arms
        steps, dists, grads = [0], [], []
        with torch.no_grad():
            dists.append(nearest_mode_distance(gen(eval_z), centres))
        for step in range(1, config["early_steps"] + 1):
            _d_step(gen, disc, opt_d, centres, batch, z_dim, stream)
            loss = generator_loss(disc(gen(torch.randn(batch, z_dim, generator=stream))), kind=kind)
            g = torch.autograd.grad(loss, params)
            grads.append(_norm(g))
            for p, gp in zip(params, g, strict=True):
                p.grad = gp
            opt_g.step()
            if step % every == 0 or step == config["early_steps"]:
                with torch.no_grad():
                    dists.append(nearest_mode_distance(gen(eval_z), centres))
                steps.append(step)
            progress()
        with torch.no_grad():
            final = gen(eval_z)
        d = torch.stack(dists)
        out[kind] = {"steps": steps, "curve": d.mean(1).tolist(), "distances": d, "grad": grads, "final": final}
    return out


def early_progress(distances: Tensor) -> Tensor:
    """``(N,)``: each sample's distance at the first checkpoint minus its mean distance over the later ones
    (``distances`` is ``(K + 1, N)``, checkpoint 0 first)."""
    return distances[0] - distances[1:].mean(0)


def train_coverage(objective: GANKind, config: Mapping[str, Any], seed: int, snapshots: list[int],
                   progress: Callable[[], None] = lambda: None) -> dict[str, Any]:
    """Train one objective on the ring with Adam for ``coverage_steps`` generator steps from the seed's initial
    networks; returns ``modes`` and ``hq`` (:func:`mode_coverage` of ``N_EVAL`` held-out samples) and 500 samples
    at each of ``snapshots`` and at the end (``shots``)."""
    centres = mode_centres("ring")
    gen, disc = _networks(config, seed)
    data_g = torch.Generator().manual_seed(seed + 1)
    noise_g = torch.Generator().manual_seed(seed + 2)
    opt_d = torch.optim.Adam(disc.parameters(), lr=config["adam_lr"], betas=(0.5, 0.999), foreach=True)
    opt_g = torch.optim.Adam(gen.parameters(), lr=config["adam_lr"], betas=(0.5, 0.999), foreach=True)
    batch, z_dim, steps = config["batch"], config["z_dim"], config["coverage_steps"]
    shots: dict[int, Tensor] = {}
    eval_z = torch.randn(N_EVAL, z_dim, generator=torch.Generator().manual_seed(seed + 3))
    for step in range(steps):
        if step in snapshots:
            with torch.no_grad():
                shots[step] = gen(eval_z[:500]).clone()
        real = sample_data(centres, batch, data_g)
        with torch.no_grad():
            fake = gen(torch.randn(batch, z_dim, generator=noise_g))
        loss = discriminator_loss(disc(real), disc(fake), kind=objective)
        opt_d.zero_grad(set_to_none=True)
        torch.autograd.backward(loss)
        opt_d.step()
        g_loss = generator_loss(disc(gen(torch.randn(batch, z_dim, generator=noise_g))), kind=objective)
        opt_g.zero_grad(set_to_none=True)
        torch.autograd.backward(g_loss)
        opt_g.step()
        progress()
    with torch.no_grad():
        final = gen(eval_z)
    shots[steps] = final[:500].clone()
    modes, hq, _ = mode_coverage(final, centres, STD, hq_stds=HQ_STDS, min_samples=MIN_MODE_SAMPLES)
    return {"modes": modes, "hq": hq, "shots": shots}


def run(ctx: RunContext) -> RunOutput:
    with single_thread():
        return _run(ctx)


def _run(ctx: RunContext) -> RunOutput:
    config, seed = ctx.config, ctx.seed
    total = config["pretrain_steps"] + len(ARMS) * config["early_steps"] + len(COVERAGE_OBJECTIVES) * config[
        "coverage_steps"]
    tick = ctx.ticker(total, every=50)

    metrics: dict[str, float] = {}
    timing: list[list[Any]] = [["part", "CPU seconds"]]
    centres = mode_centres("ring")

    # 1. the saturation probe at (G0, D0)
    cpu = time.process_time()
    gen0, disc0, eval_z, real_eval, fake0 = _probe(config, seed, centres, tick, metrics)
    timing.append(["D pre-training and probe", round(time.process_time() - cpu, 2)])

    # 2. the early dynamics from the same (G0, D0)
    cpu = time.process_time()
    dyn = early_dynamics(gen0, disc0, config, seed, eval_z, tick)
    prog = {kind: early_progress(dyn[kind]["distances"]) for kind in ARMS}
    interval: Interval = paired_bootstrap(prog["nonsaturating"], prog["minimax"], resamples=BOOTSTRAP_RESAMPLES,
                                          seed=seed)
    metrics["early/dist_start"] = dyn["minimax"]["curve"][0]
    metrics["early/energy_start"] = energy_distance(fake0, real_eval)
    for kind in ARMS:
        metrics[f"early/progress_{kind}"] = float(prog[kind].mean())
        metrics[f"early/dist_end_{kind}"] = dyn[kind]["curve"][-1]
        metrics[f"early/energy_end_{kind}"] = energy_distance(dyn[kind]["final"], real_eval)
        metrics[f"early/grad_{kind}"] = sum(dyn[kind]["grad"]) / len(dyn[kind]["grad"])
    metrics["early/diff_mean"] = interval.mean
    metrics["early/diff_low"] = interval.low
    metrics["early/diff_high"] = interval.high
    timing.append(["early dynamics (both arms)", round(time.process_time() - cpu, 2)])

    # 3. descriptive: ring coverage per objective
    steps = config["coverage_steps"]
    snapshots = [0, steps // 4, steps // 2]
    results, rows = _coverage(config, seed, snapshots, tick, metrics, timing)
    figures: list[Figure] = []
    if ctx.make_figures:
        figures.append(_dynamics_figure(ctx, dyn))
        figures.append(_scatter(ctx, results, [*snapshots, steps]))
    return RunOutput(metrics=metrics, figures=figures,
                     tables={"Early dynamics from D pre-trained to reject G (this seed)": _early_rows(config, metrics),
                             "Ring coverage after Adam training, descriptive (this seed)": rows,
                             "CPU time (this seed, one thread)": timing})


def _probe(config: Mapping[str, Any], seed: int, centres: Tensor, tick: Callable[[], None],
           metrics: dict[str, float]) -> tuple[nn.Module, nn.Module, Tensor, Tensor, Tensor]:
    """D pre-trained to reject the initial G, then both generator losses' gradient norms at that (G0, D0); returns
    (G0, D0, the held-out noise, held-out real samples, G0's samples of that noise)."""
    gen0, disc0 = pretrain_discriminator(config, seed, tick)
    eval_z = torch.randn(config["eval_samples"], config["z_dim"], generator=torch.Generator().manual_seed(seed + 5))
    real_eval = sample_data(centres, config["eval_samples"], torch.Generator().manual_seed(seed + 7))
    norms = generator_gradient_norms(gen0, disc0, eval_z)
    with torch.no_grad():
        fake0 = gen0(eval_z)
        d_fake = float(torch.sigmoid(disc0(fake0)).mean())
        d_real = float(torch.sigmoid(disc0(real_eval)).mean())
    metrics["probe/grad_minimax"] = norms["minimax"]
    metrics["probe/grad_nonsaturating"] = norms["nonsaturating"]
    metrics["probe/ratio"] = norms["nonsaturating"] / max(norms["minimax"], 1e-300)
    metrics["probe/D_on_fake"] = d_fake
    metrics["probe/D_on_real"] = d_real
    return gen0, disc0, eval_z, real_eval, fake0


def _coverage(config: Mapping[str, Any], seed: int, snapshots: list[int], tick: Callable[[], None],
              metrics: dict[str, float], timing: list[list[Any]]
              ) -> tuple[dict[str, dict[str, Any]], list[list[Any]]]:
    """Descriptive: each objective trained with Adam on the ring; modes covered and high-quality share."""
    results: dict[str, dict[str, Any]] = {}
    rows: list[list[Any]] = [["objective", "modes covered (of 8, ↑)", "high-quality samples (%, ↑)", "CPU seconds"]]
    for objective in COVERAGE_OBJECTIVES:
        cpu = time.process_time()
        res = train_coverage(objective, config, seed, snapshots, tick)
        results[objective] = res
        metrics[f"coverage/{objective}/modes"] = float(res["modes"])
        metrics[f"coverage/{objective}/hq"] = float(res["hq"])
        rows.append([objective, res["modes"], round(100 * res["hq"], 1), round(time.process_time() - cpu, 2)])
        timing.append([f"coverage: {objective}", rows[-1][-1]])
    return results, rows


def _early_rows(config: Mapping[str, Any], metrics: dict[str, float]) -> list[list[Any]]:
    """The table of the early dynamics, one row per generator loss."""
    early_rows: list[list[Any]] = [["generator loss", "mean distance to nearest mode (data units): start",
                                    f"mean over steps 1–{config['early_steps']} (↓)",
                                    f"at step {config['early_steps']} (↓)", "early progress (data units, ↑)",
                                    "mean ‖∇G‖ per step", "energy distance to real (data units): start",
                                    f"at step {config['early_steps']} (↓)"]]
    for kind in ARMS:
        early_rows.append([kind, round(metrics["early/dist_start"], 3),
                           round(metrics["early/dist_start"] - metrics[f"early/progress_{kind}"], 3),
                           round(metrics[f"early/dist_end_{kind}"], 3), round(metrics[f"early/progress_{kind}"], 3),
                           float(f"{metrics[f'early/grad_{kind}']:.3g}"), round(metrics["early/energy_start"], 3),
                           round(metrics[f"early/energy_end_{kind}"], 3)])
    return early_rows


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _dynamics_figure(ctx: RunContext, dyn: dict[str, dict[str, Any]]) -> Figure:
    plt = _pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(8.0, 3.4))
    colours = {"minimax": "tab:red", "nonsaturating": "tab:blue"}
    labels = {"minimax": "minimax: min log(1 − D(G(z)))", "nonsaturating": "non-saturating: max log D(G(z))"}
    for kind in ARMS:
        left.plot(dyn[kind]["steps"], dyn[kind]["curve"], color=colours[kind], label=labels[kind])
        right.plot(range(1, len(dyn[kind]["grad"]) + 1), dyn[kind]["grad"], color=colours[kind], linewidth=0.8)
    left.set_xlabel("generator step (SGD with momentum)")
    left.set_ylabel("distance to nearest mode (data units)")
    left.set_ylim(bottom=0)
    left.legend(fontsize=7)
    right.set_yscale("log")
    right.set_xlabel("generator step (SGD with momentum)")
    right.set_ylabel("generator gradient norm ‖∇θ L_G‖")
    n = ctx.config["eval_samples"]
    return save_pyplot_figure(
        fig, ctx.out_dir / f"gan_dynamics_seed{ctx.seed}.png", dpi=90,
        title=f"Early training from D pre-trained to reject G (seed {ctx.seed}): left, mean over {n} held-out "
              "samples; right, per training batch",
        caption=f"Left: the mean distance (data units) of {n} held-out generator samples to their nearest ring mode, "
                "against generator steps, for the minimax and the non-saturating generator loss trained from the "
                "same (G, D) with the same SGD-with-momentum settings and batches; the ring's σ is 0.02. Right: the "
                "norm of the generator's gradient on each step's training batch (log scale; same colours).")


def _scatter(ctx: RunContext, results: dict[str, dict[str, Any]], steps: list[int]) -> Figure:
    plt = _pyplot()
    centres = mode_centres("ring")
    lim = 3.0
    fig, axes = plt.subplots(len(COVERAGE_OBJECTIVES), len(steps),
                             figsize=(1.7 * len(steps), 1.7 * len(COVERAGE_OBJECTIVES)), sharex=True, sharey=True)
    for i, objective in enumerate(COVERAGE_OBJECTIVES):
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
    return save_pyplot_figure(fig, ctx.out_dir / f"gan_objectives_ring_seed{ctx.seed}.png", dpi=80, title_size=7,
                              title="ring: 500 generator samples (blue) and mode centres (red ×), x, y in data units",
                              caption="Ring of 8 (descriptive): generator samples over Adam training (columns: "
                                      "generator steps), one row per objective; same initial networks, steps, data "
                                      "and seed; axes in data units (each panel spans ±3).")


def verdict(summary: Summary) -> Verdict:
    """Holds when, in every seed, the probe ratio is ≥ ``PROBE_RATIO`` and the non-saturating arm's early progress
    exceeds the minimax arm's with a paired-bootstrap interval above zero; otherwise does not hold."""
    ratios = summary.values["probe/ratio"]
    diffs = paired_differences(summary, "early/progress_nonsaturating", "early/progress_minimax")
    lows, highs = summary.values["early/diff_low"], summary.values["early/diff_high"]
    saturates = all(r >= PROBE_RATIO for r in ratios)
    faster = all(d > 0 and lo > 0 for d, lo in zip(diffs, lows, strict=True))
    intervals = ", ".join(f"{d:+.3f} [{lo:+.3f}, {hi:+.3f}]" for d, lo, hi in zip(diffs, lows, highs, strict=True))
    coverage = ", ".join(f"{o} {summary.mean(f'coverage/{o}/modes'):.1f}" for o in COVERAGE_OBJECTIVES
                         if f"coverage/{o}/modes" in summary.values)
    reason = ("probe ‖∇G‖ non-saturating / minimax at D pre-trained to reject G: "
              + ", ".join(f"{r:.3g}×" for r in ratios) + f" per seed (rule: ≥ {PROBE_RATIO:g}× in every seed); "
              f"early progress toward the ring (data units, mean over seeds): non-saturating "
              f"{summary.mean('early/progress_nonsaturating'):.3f}, minimax "
              f"{summary.mean('early/progress_minimax'):.3f}; "
              f"non-saturating − minimax per seed [95% paired bootstrap over held-out z]: {intervals} (rule: > 0 with "
              f"the interval above 0 in every seed). Guards: D's mean probability on G's samples at the start "
              f"{summary.mean('probe/D_on_fake'):.3g} (on real {summary.mean('probe/D_on_real'):.3g}); energy distance "
              f"to held-out real samples {summary.mean('early/energy_start'):.3f} at the start, after the early steps "
              f"non-saturating {summary.mean('early/energy_end_nonsaturating'):.3f}, minimax "
              f"{summary.mean('early/energy_end_minimax'):.3f}. Descriptive, not in the rule: ring modes covered "
              f"(mean over seeds) {coverage}.")
    holds = saturates and faster
    return decide(reason, holds=holds, fails=not holds)


EXPERIMENT = Experiment(
    name="gan-objectives",
    title="GAN objectives: the minimax generator saturates early in training (Goodfellow et al.)",
    claim="Early in learning, when the discriminator confidently rejects the generator's samples, the minimax "
          "generator loss log(1 − D(G(z))) saturates: its gradient is far smaller than that of the non-saturating "
          "loss −log D(G(z)), and under the same SGD-with-momentum training the minimax generator moves toward "
          "the data more slowly (Goodfellow et al. 2014, Section 3: the non-saturating loss \"provides much "
          "stronger gradients early in learning\").",
    paper="Goodfellow et al. 2014, Generative Adversarial Nets (arXiv 1406.2661), Section 3 and Algorithm 1. "
          "Context: ring-of-8 data of Metz et al. 2017 (1611.02163); mode measures of VEEGAN (1705.07761) and "
          "PacGAN (1712.04086); LSGAN (1611.04076), hinge (1705.02894).",
    setup="Ring of 8 Gaussians (radius 2, σ = 0.02). Generator and discriminator: MLPs with two hidden ReLU layers "
          "(width 128, noise dimension 8), the same initial weights per seed for every part. Start state: the "
          "initial generator G₀ and a discriminator D₀ trained alone for 200 SGD steps (momentum 0.5, lr 0.05, "
          "batch 128) to reject G₀'s samples. Probe: ‖∇θ L_G‖ of both generator losses at (G₀, D₀) on 2,000 "
          "held-out noise vectors. Early dynamics: from (G₀, D₀), 300 alternating steps (one D step, one G step, "
          "k = 1 as in Algorithm 1) of SGD with momentum 0.5 (lr 0.01 for G, 0.05 for D), once per generator "
          "loss, with the same batches; every 10 steps the 2,000 held-out samples' distance to the nearest "
          "mode is measured; early progress = distance at step 0 minus mean distance over steps 10–300, paired "
          "by noise vector, 2,000-resample paired bootstrap. Guards: D₀'s probability on G₀'s samples; energy "
          "distance of each arm's samples to 2,000 held-out real samples after the early steps. Descriptive: "
          "ring modes covered after 3,000 Adam steps (lr 5e-4, β = (0.5, 0.999), one D step per G step) by "
          "minimax, non-saturating, LSGAN (0-1 coding) and hinge (WGAN and WGAN-GP left out: 5 critic steps per "
          "generator step do not fit the time budget; Adam's update ≈ lr·sign(g) largely cancels the gradient's "
          "magnitude, so this part does not test saturation), 2,500 held-out samples, a "
          "sample high-quality within 3σ of a mode, a mode covered with ≥ 20 of them. For context, VEEGAN reports "
          "1/8 ring modes for a standard GAN and 7.6/8 for Unrolled GAN; PacGAN, with bigger networks and much "
          "longer training, 6.3/8 for a standard GAN; Metz et al. trained about 25k steps at batch 512. The 5×5 "
          "grid of the earlier version is dropped (no objective covered a grid mode in 1,000 steps).",
    rule="holds if, in every one of the 3 seeds, (a) the probe's gradient ratio non-saturating / minimax is ≥ 10, "
         "and (b) the non-saturating generator's early progress exceeds the minimax generator's, with the 95% "
         "paired-bootstrap interval (over the 2,000 held-out noise vectors) of the difference above 0; otherwise "
         "does not hold at this scale. Mode coverage is descriptive and not part of the rule.",
    full={"width": 128, "z_dim": 8, "batch": 128, "momentum": 0.5, "lr_d": 0.05, "lr_g": 0.01,
          "pretrain_steps": 200, "early_steps": 300, "eval_every": 10, "eval_samples": 2000,
          "coverage_steps": 3000, "adam_lr": 5e-4},
    quick={"width": 32, "z_dim": 8, "batch": 64, "momentum": 0.5, "lr_d": 0.05, "lr_g": 0.01,
           "pretrain_steps": 40, "early_steps": 40, "eval_every": 5, "eval_samples": 256,
           "coverage_steps": 30, "adam_lr": 1e-3},
    run=run,
    verdict=verdict,
    seeds=3,
    pilot="A pilot on seeds 100, 101 and 102 (their own initial networks, data and noise; never seeds 0–2) chose "
          "the early-dynamics optimiser settings, looking at both arms' curves of mean distance to the nearest "
          "mode (10 checkpoints). Tried first, D pre-trained with Adam (lr 5e-4) and then G and D trained with SGD "
          "at one shared lr: lr 0.05 and 0.1 with momentum 0.9, and lr 0.01 with momentum 0.9, sent one or both "
          "arms to NaN or far off the ring; with momentum 0.5, lr 0.1 sent the minimax arm ≈ 20 units off in two "
          "seeds, lr 0.05 let both arms reach the ring (minimax after an overshoot to ≈ 6 in one seed), and at lr "
          "0.002–0.01 the non-saturating generator overshot the ring (mean distance to the nearest mode up to ≈ 5, "
          "against 1.87 at the start) before coming back, so at lr 0.002 its mean distance over the window was "
          "larger than the minimax one's. "
          "Then D pre-trained with SGD as well (200 steps, momentum 0.5): lr_G = lr_D = 0.01 gave a weaker D (probe "
          "ratio ≈ 16) and both arms reaching the ring; lr_G = lr_D = 0.05 both arms reaching the ring within 60–150 "
          "steps; lr_D 0.05 with lr_G 0.005, 0.01 or 0.02 and momentum 0.5 no divergence and no overshoot of the "
          "non-saturating arm, the minimax arm creeping (at lr_G 0.02 it reached the ring after ≈ 150 steps); "
          "momentum 0.9 there (lr_G 0.01) made the non-saturating arm overshoot again. Kept: momentum 0.5, lr_D 0.05, "
          "lr_G 0.01, 200 pre-training steps, a 300-step window. Seed 100 at the full size also showed WGAN-GP "
          "covering no mode after 2,500 steps at 28 s of CPU, so the coverage dropped it and runs 3,000 steps. The "
          "10× probe threshold and the 95% paired bootstrap are fixed by the rule, not by the pilot."
)
