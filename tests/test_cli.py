"""The ``imagelosses`` command: every bad input (in a subprocess: exit status, one-line message, no leftover
file), sizes bounded by memory, the subcommands on tiny images, progress and time estimates, output permissions
that follow the umask, and ``experiments`` end to end on tiny test experiments registered through
:func:`imagelosses.experiments.registry.register` (Ctrl-C included).

The test experiments live here (never in the package): ``test-tiny`` fits a line by gradient descent on
seeded noisy data, ``test-slow`` waits to be interrupted, ``test-broken`` fails.
"""

from __future__ import annotations

import io
import json
import os
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from imagelosses.backbones.weights import CACHE_ENV
from imagelosses.cli import main
from imagelosses.cli.images import load_image
from imagelosses.cli.limits import available_memory, largest_size
from imagelosses.cli.progress import StepProgress, format_duration
from imagelosses.experiments import registry
from imagelosses.experiments.base import Experiment, Figure, RunContext, RunOutput, Summary, Verdict
from tests.vgg_fixtures import oxford_cache  # noqa: F401  (fixture)

TESTS = Path(__file__).parent
PY = sys.executable
CHILD_ENV = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}


# --- the test experiments ------------------------------------------------------------------------------------

TINY_RULE = "holds when mean + 2·std of the slope error is below 0.1; does not hold when mean − 2·std is above it"


def tiny_verdict(summary: Summary) -> Verdict:
    m, s = summary.mean("slope_error"), summary.std("slope_error")
    if m + 2 * s < 0.1:
        return Verdict("holds", f"slope error {m:.3g} ± {s:.3g} < 0.1")
    if m - 2 * s > 0.1:
        return Verdict("does not hold at this scale", f"slope error {m:.3g} ± {s:.3g} > 0.1")
    return Verdict("inconclusive", f"slope error {m:.3g} ± {s:.3g} straddles 0.1")


def tiny_run(ctx: RunContext) -> RunOutput:
    g = ctx.generator()
    n, steps = int(ctx.config["points"]), int(ctx.config["steps"])
    x = torch.rand(n, generator=g) * 2 - 1
    y = 2.0 * x + 1.0 + 0.1 * torch.randn(n, generator=g)
    w = torch.zeros(2, requires_grad=True)
    opt = torch.optim.SGD([w], lr=0.5)
    curve = []
    for step in range(steps):
        loss = (w[0] * x + w[1] - y).square().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        curve.append(float(loss.detach()))
        ctx.progress(step + 1, steps)
    figures = []
    if ctx.make_figures:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        for name, values, label in (("loss.png", curve, "training MSE"), ("data.png", None, "")):
            fig, ax = plt.subplots(figsize=(4, 3), dpi=80)
            if values is None:
                ax.scatter(x.numpy(), y.numpy(), s=4)
                ax.set_xlabel("x")
                ax.set_ylabel("y")
            else:
                ax.plot(values)
                ax.set_xlabel("step")
                ax.set_ylabel(label)
            fig.tight_layout()
            fig.savefig(ctx.out_dir / name)
            plt.close(fig)
            figures.append(Figure(ctx.out_dir / name, f"{name[:-4]} of seed {ctx.seed} <&>"))
    slope = float(w[0].detach())
    return RunOutput(metrics={"slope_error": abs(slope - 2.0), "final_loss": curve[-1]}, figures=figures,
                     tables={"fit": [["parameter", "value"], ["slope", slope], ["intercept", float(w[1].detach())]]})


TINY = Experiment(name="test-tiny", title="A line fitted by gradient descent <b>(test)</b>",
                  claim="Gradient descent recovers the slope of a noisy line.", paper="Cauchy 1847 (test)",
                  setup="y = 2x + 1 + N(0, 0.1²), x ~ U[-1, 1]; SGD on the MSE.", rule=TINY_RULE,
                  full={"points": 400, "steps": 150}, quick={"points": 64, "steps": 100}, run=tiny_run,
                  verdict=tiny_verdict, seeds=3)


def slow_run(ctx: RunContext) -> RunOutput:
    (ctx.out_dir / "partial.png").write_bytes(b"\x89PNG\r\n\x1a\n half")  # a figure half drawn when Ctrl-C comes
    Path(os.environ["IMAGELOSSES_TEST_MARKER"]).write_text("running")
    for i in range(600):
        time.sleep(0.05)
        ctx.progress(i, 600)
    return RunOutput(metrics={"x": 1.0})


SLOW = Experiment(name="test-slow", title="Waits", claim="-", paper="-", setup="-", rule="-", full={}, quick={},
                  run=slow_run, verdict=lambda s: Verdict("inconclusive", "-"), seeds=1)


def broken_run(ctx: RunContext) -> RunOutput:
    (ctx.out_dir / "half.png").write_bytes(b"half")
    raise RuntimeError("the broken experiment broke")


BROKEN = Experiment(name="test-broken", title="Breaks", claim="-", paper="-", setup="-", rule="-", full={},
                    quick={}, run=broken_run, verdict=lambda s: Verdict("holds", "-"), seeds=2)


@pytest.fixture
def registered() -> Iterator[None]:
    for e in (TINY, SLOW, BROKEN):
        registry.register(e, replace=True)
    yield
    for e in (TINY, SLOW, BROKEN):
        registry.unregister(e.name)


# --- files for the bad inputs ---------------------------------------------------------------------------------

def _rgb(path: Path, size: int = 32, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8), "RGB").save(path)
    return path


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("inputs")
    out = {"rgb": _rgb(d / "rgb.png"), "rgb2": _rgb(d / "rgb2.png", seed=1), "big": _rgb(d / "big.png", 40)}
    Image.fromarray(np.full((32, 32, 4), 200, np.uint8), "RGBA").save(d / "rgba.png")
    out["rgba"] = d / "rgba.png"
    (d / "text.png").write_text("this is not an image\n")
    out["text"] = d / "text.png"
    data = out["rgb"].read_bytes()
    (d / "truncated.png").write_bytes(data[: len(data) // 2])
    out["truncated"] = d / "truncated.png"
    (d / "folder.png").mkdir()
    out["folder"] = d / "folder.png"
    (d / "plain.txt").write_text("a file, not a folder")
    out["plain"] = d / "plain.txt"
    mask = np.zeros((32, 32, 3), np.uint8)
    mask[4:12, 4:12] = (255, 0, 0)
    Image.fromarray(mask, "RGB").save(d / "colour_mask.png")
    out["colour_mask"] = d / "colour_mask.png"
    Image.fromarray(np.full((1, 1, 3), 128, np.uint8), "RGB").save(d / "one.png")
    out["one"] = d / "one.png"
    Image.fromarray(np.full((20, 400, 3), 128, np.uint8), "RGB").save(d / "thin.png")
    out["thin"] = d / "thin.png"
    return out


# The bad inputs: (id, argv with {name} placeholders, a fragment of the one error line).
BAD = [
    ("missing-file", ["style-transfer", "{d}/nope.png", "{rgb}", "-o", "{o}/out.png"],
     "CONTENT: expected an existing image file, got '{d}/nope.png' (no such file)"),
    ("folder-as-image", ["texture", "{folder}", "-o", "{o}/out.png"], "SOURCE: expected an image file, got"),
    ("non-image", ["compare", "{rgb}", "{text}"], "B: expected an image file (PNG, JPEG, TIFF, ...), got"),
    ("truncated", ["texture", "{truncated}", "-o", "{o}/out.png"], "SOURCE: expected a readable image file, got"),
    ("alpha", ["style-transfer", "{rgb}", "{rgba}", "-o", "{o}/out.png"],
     "STYLE: expected an image without alpha channel (flatten it onto a background first), got"),
    ("alpha-mask", ["weight-map", "{rgba}", "-o", "{o}/out.png"], "MASK: expected a mask without alpha channel"),
    ("colour-mask", ["weight-map", "{colour_mask}", "-o", "{o}/out.png"],
     "MASK: expected a one-channel mask (grey levels or palette indices as labels), got"),
    ("size-mismatch", ["compare", "{rgb}", "{big}"],
     "B: expected an image of the size of A (32x32; or pass --resize to resize B to it), got 40x40"),
    ("no-such-folder", ["texture", "{rgb}", "-o", "{o}/missing/out.png"],
     "-o: expected a path in a writable folder, got '{o}/missing/out.png' (the folder '{o}/missing' does not exist)"),
    ("folder-is-file", ["weight-map", "{rgb}", "-o", "{plain}/out.png"], "(the folder '{plain}' is a file)"),
    ("bad-suffix", ["style-transfer", "{rgb}", "{rgb}", "-o", "{o}/out.txt"],
     "-o: expected a file name ending in .png, .jpg"),
    ("negative-steps", ["style-transfer", "{rgb}", "{rgb}", "-o", "{o}/out.png", "--steps", "-3"],
     "argument --steps: expected a positive integer, got '-3'"),
    ("negative-steps-texture", ["texture", "{rgb}", "-o", "{o}/out.png", "--steps=-1"],
     "argument --steps: expected a positive integer, got '-1'"),
    ("zero-seeds", ["experiments", "--seeds", "0", "--out", "{o}/run"], "argument --seeds: expected a positive"),
    ("negative-sigma", ["weight-map", "{rgb}", "-o", "{o}/out.png", "--sigma", "-1"],
     "argument --sigma: expected a finite number > 0, got '-1'"),
    ("unknown-experiment", ["experiments", "--only", "no-such-thing", "--out", "{o}/run"],
     "experiment: expected one of " + ", ".join(registry.BUILTIN) + ", got 'no-such-thing'"),
    ("out-is-file", ["experiments", "--only", "test-nothing", "--out", "{plain}/run"],
     "--out: expected a writable folder, got '{plain}/run' ('{plain}' is a file)"),
    ("unknown-subcommand", ["paint"], "argument SUBCOMMAND: invalid choice: 'paint'"),
    ("size-too-large", ["texture", "{rgb}", "-o", "{o}/out.png", "--size", "100000", "--steps", "1"],
     "--size: expected at most "),
    ("size-too-large-style", ["style-transfer", "{rgb}", "{rgb}", "-o", "{o}/out.png", "--size", "100000", "--steps",
                              "1"], "--size: expected at most "),
    ("size-too-small", ["texture", "{rgb}", "-o", "{o}/out.png", "--size", "8"],
     "argument --size: expected a side of at least 16 pixels (the VGG halves it four times), got '8'"),
    ("one-pixel-source", ["texture", "{one}", "-o", "{o}/out.png"],
     "SOURCE: expected an image of at least 16x16 pixels, got '{one}' (1x1)"),
    ("one-pixel-style", ["style-transfer", "{rgb}", "{one}", "-o", "{o}/out.png"],
     "STYLE: expected an image of at least 16x16 pixels, got '{one}' (1x1)"),
    ("thin-after-resize", ["style-transfer", "{thin}", "{rgb}", "-o", "{o}/out.png", "--size", "64"],
     "CONTENT: expected an image whose shorter side is still at least 16 pixels at --size 64, got '{thin}' (400x20, "
     "resized to 64x3)"),
    ("one-pixel-compare", ["compare", "{one}", "{one}"], "A: expected an image of at least 16x16 pixels"),
    ("balance-and-style-weight", ["style-transfer", "{rgb}", "{rgb}", "-o", "{o}/out.png", "--balance", "1",
                                  "--style-weight", "5"],
     "argument --style-weight: not allowed with argument --balance"),
]
if not torch.cuda.is_available():
    BAD.append(("cuda-without-cuda", ["texture", "{rgb}", "-o", "{o}/out.png", "--device", "cuda"],
                "--device: expected cpu (CUDA is not available on this machine), got 'cuda'"))
if os.geteuid() != 0:  # root reads and writes whatever the permission bits say
    BAD += [("unreadable", ["texture", "{unreadable}", "-o", "{o}/out.png"], "(permission denied)"),
            ("unwritable-folder", ["texture", "{rgb}", "-o", "{locked}/out.png"], "-o: expected a path in a writable")]


#: One bad input of each kind the issue names, also run as a real process (``python -m imagelosses``): the exit
#: status and stderr a shell sees. (All of them run in-process through ``main``, the console script's entry.)
IN_SUBPROCESS = ("missing-file", "unreadable", "folder-as-image", "non-image", "alpha", "no-such-folder",
                 "unwritable-folder", "unknown-experiment", "cuda-without-cuda", "negative-steps", "size-too-large",
                 "size-too-large-style", "size-too-small", "one-pixel-source", "thin-after-resize")


def _substitutions(name: str, files: dict[str, Path], root: Path) -> dict[str, str]:
    o = root / name
    o.mkdir()
    unreadable, locked = root / "unreadable.png", root / "locked"
    if not unreadable.exists():
        _rgb(unreadable)
        unreadable.chmod(0)
        locked.mkdir(mode=0o555)
    return {k: str(v) for k, v in files.items()} | {"d": str(files["rgb"].parent), "o": str(o),
                                                     "unreadable": str(unreadable), "locked": str(locked)}


def _check_bad(status: int, stderr: str, message: str, folder: Path, files: dict[str, Path]) -> None:
    lines = stderr.splitlines()
    assert status == 2, stderr
    assert len(lines) == 1, stderr
    assert lines[0].startswith("imagelosses: error: "), lines[0]
    assert message in lines[0]
    assert list(folder.iterdir()) == []  # no output, no temporary file
    assert sorted(p.name for p in files["rgb"].parent.iterdir()) == sorted(p.name for p in files.values())


@pytest.fixture(scope="module")
def bad_processes(files: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
                  ) -> dict[str, tuple[Path, str, subprocess.CompletedProcess[str]]]:
    """The IN_SUBPROCESS commands, all started at once, each with its own empty output folder."""
    root = tmp_path_factory.mktemp("bad-processes")
    started = {}
    for name, argv, message in BAD:
        if name in IN_SUBPROCESS:
            subs = _substitutions(name, files, root)
            proc = subprocess.Popen([PY, "-m", "imagelosses", *[a.format(**subs) for a in argv]], env=CHILD_ENV,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            started[name] = (Path(subs["o"]), message.format(**subs), proc)
    done = {}
    for name, (folder, message, proc) in started.items():
        stdout, stderr = proc.communicate(timeout=300)
        done[name] = (folder, message, subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr))
    return done


@pytest.mark.parametrize(("name", "argv", "message"), BAD, ids=[b[0] for b in BAD])
def test_bad_input(name: str, argv: list[str], message: str, files: dict[str, Path], tmp_path: Path,
                   capsys: pytest.CaptureFixture[str]) -> None:
    subs = _substitutions(name, files, tmp_path)
    status = main([a.format(**subs) for a in argv])
    _check_bad(status, capsys.readouterr().err, message.format(**subs), Path(subs["o"]), files)


@pytest.mark.parametrize("name", [b[0] for b in BAD if b[0] in IN_SUBPROCESS])
def test_bad_input_in_a_process(name: str, bad_processes: dict[str, tuple[Path, str,
                                                                           subprocess.CompletedProcess[str]]],
                                files: dict[str, Path]) -> None:
    folder, message, result = bad_processes[name]
    assert "Traceback" not in result.stderr
    _check_bad(result.returncode, result.stderr, message, folder, files)


# --- the image policy --------------------------------------------------------------------------------------------

def test_grey_images_are_repeated_to_rgb(tmp_path: Path) -> None:
    grey = np.random.default_rng(0).integers(0, 256, (20, 24), dtype=np.uint8)
    Image.fromarray(grey, "L").save(tmp_path / "grey.png")
    Image.fromarray(np.repeat(grey[..., None], 3, axis=-1), "RGB").save(tmp_path / "rgb.png")
    g = load_image(str(tmp_path / "grey.png"), "A")
    assert g.shape == (1, 3, 20, 24) and g.dtype == torch.float32
    torch.testing.assert_close(g, load_image(str(tmp_path / "rgb.png"), "B"))
    torch.testing.assert_close(g[0, 1], torch.from_numpy(grey).float() / 255)
    Image.fromarray(grey.astype(np.uint16) * 257).save(tmp_path / "grey16.png")
    torch.testing.assert_close(load_image(str(tmp_path / "grey16.png"), "A"), g)
    resized = load_image(str(tmp_path / "grey.png"), "A", size=12, min_side=8)
    assert resized.shape == (1, 3, 10, 12) and 0 <= float(resized.min()) and float(resized.max()) <= 1


def test_palette_with_transparency_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    image = Image.new("P", (16, 16))
    image.info["transparency"] = 0
    image.save(tmp_path / "p.png", transparency=0)
    assert main(["compare", str(tmp_path / "p.png"), str(tmp_path / "p.png")]) == 2
    assert "A: expected an image without alpha channel" in capsys.readouterr().err


# --- the subcommands on tiny images -----------------------------------------------------------------------------

def test_compare_json_and_table(files: dict[str, Path], oxford_cache: str,  # noqa: F811
                                capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compare", str(files["rgb"]), str(files["rgb"]), "--json"]) == 0
    same = json.loads(capsys.readouterr().out)
    assert same["mse"] == 0 and same["l1"] == 0 and same["texture"] == 0
    assert set(same["perceptual"]) == {"relu1_2", "relu2_2", "relu3_3", "relu4_3"}
    assert all(v == 0 for v in [*same["perceptual"].values(), *same["style"].values()])
    assert main(["compare", str(files["rgb"]), str(files["rgb2"]), "--json"]) == 0
    diff = json.loads(capsys.readouterr().out)
    a, b = (np.asarray(Image.open(files[k]), dtype=np.float64) / 255 for k in ("rgb", "rgb2"))
    assert diff["mse"] == pytest.approx(((a - b) ** 2).mean(), rel=1e-5)
    assert diff["l1"] == pytest.approx(np.abs(a - b).mean(), rel=1e-5)
    assert all(v > 0 for v in diff["perceptual"].values())
    assert diff["style"]["total"] == pytest.approx(sum(v for k, v in diff["style"].items() if k != "total"))
    assert main(["compare", str(files["rgb"]), str(files["rgb2"])]) == 0
    table = capsys.readouterr().out
    assert "MSE (pixels in [0, 1])" in table and "perceptual relu3_3" in table and f"{diff['mse']:.6g}" in table


def _flat(d: dict[str, object]) -> list[object]:
    """Every leaf of a nested dict of distances."""
    return [x for v in d.values() for x in (_flat(v) if isinstance(v, dict) else [v])]  # type: ignore[arg-type]


def test_compare_prints_references_of_a_one_pixel_shift_and_a_blur(files: dict[str, Path],
                                                                    oxford_cache: str,  # noqa: F811
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compare", str(files["rgb"]), str(files["rgb"]), "--json"]) == 0
    same = json.loads(capsys.readouterr().out)
    assert same["b_resized_from"] is None and set(same["references"]) == {"shifted_1px", "blurred_sigma_1px"}
    assert all(v == 0 for v in _flat({k: v for k, v in same.items() if k not in ("references", "b_resized_from")}))
    for name, ref in same["references"].items():  # numbers, > 0 everywhere, the same keys as A vs B
        assert set(ref) == {"mse", "l1", "perceptual", "style", "texture"}, name
        assert all(type(v) is float and v > 0 for v in _flat(ref)), name
    a = np.asarray(Image.open(files["rgb"]), dtype=np.float64) / 255
    shifted = np.concatenate([a[:, 1:2], a[:, :-1]], axis=1)  # one pixel right, the first column mirrored
    assert same["references"]["shifted_1px"]["mse"] == pytest.approx(((a - shifted) ** 2).mean(), rel=1e-5)
    assert main(["compare", str(files["rgb"]), str(files["rgb2"])]) == 0
    table = capsys.readouterr().out
    head = table.splitlines()[0].split()
    assert head[:3] == ["distance", "A", "vs"] and "A vs A shifted 1 px" in table
    assert "A vs A blurred sigma=1 px" in table and "References: the same distances between A and A moved" in table
    mse_row = next(line for line in table.splitlines() if line.startswith("MSE"))
    assert mse_row.split()[-2] == f"{same['references']['shifted_1px']['mse']:.6g}"


def test_compare_resizes_b_to_a_with_resize(files: dict[str, Path], oxford_cache: str,  # noqa: F811
                                            capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compare", str(files["rgb"]), str(files["big"])]) == 2
    assert "--resize" in capsys.readouterr().err
    assert main(["compare", str(files["rgb"]), str(files["big"]), "--resize", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["b_resized_from"] == [40, 40] and d["mse"] > 0
    assert main(["compare", str(files["rgb"]), str(files["big"]), "--resize"]) == 0
    assert "B resized from 40x40 to A's 32x32 (antialiased bilinear)" in capsys.readouterr().out


def test_style_transfer_and_texture_write_images(files: dict[str, Path], tmp_path: Path, oxford_cache: str,  # noqa: F811
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "styled.png"
    argv = ["style-transfer", str(files["rgb"]), str(files["big"]), "-o", str(out), "--size", "24", "--steps", "3"]
    assert main(argv) == 0
    assert Image.open(out).size == (24, 24) and Image.open(out).mode == "RGB"
    default = capsys.readouterr().out
    assert "loss" in default and "mean chroma" in default and "fine detail" in default

    def weight(text: str, which: str) -> float:
        return float(text.split(f"{which} weight ")[1].split(";")[0].split(",")[0])

    # β from --balance scales with it (the default is 10); --style-weight sets it directly; the TV weight
    # from --tv-balance likewise (default 0.1), --tv-weight sets it, --tv-balance 0 turns it off
    assert main([*argv, "--balance", "1", "--tv-balance", "1"]) == 0
    balanced = capsys.readouterr().out
    assert weight(default, "style") == pytest.approx(10 * weight(balanced, "style"), rel=1e-3)
    assert weight(balanced, "TV") == pytest.approx(10 * weight(default, "TV"), rel=1e-3) and weight(default, "TV") > 0
    assert main([*argv, "--style-weight", "5", "--tv-weight", "2"]) == 0
    assert "style weight 5, TV weight 2;" in capsys.readouterr().out
    assert main([*argv, "--tv-balance", "0"]) == 0
    assert "TV weight 0;" in capsys.readouterr().out
    out = tmp_path / "texture.jpg"
    assert main(["texture", str(files["big"]), "-o", str(out), "--size", "20", "--steps", "2", "--seed", "3"]) == 0
    assert Image.open(out).size == (20, 20)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["styled.png", "texture.jpg"]


def test_weight_map_of_binary_and_instance_masks(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    mask = np.zeros((40, 40), np.uint8)
    mask[5:15, 5:15] = 255
    mask[5:15, 18:30] = 255  # a second cell 3 px away
    Image.fromarray(mask, "L").save(tmp_path / "binary.png")
    assert main(["weight-map", str(tmp_path / "binary.png"), "-o", str(tmp_path / "w.png"), "--w0", "5"]) == 0
    line = capsys.readouterr().out
    assert "2 cells (8-connected components of a binary mask)" in line
    assert "weight 1 to " in line  # w_c = 1 on the cells, 1 + border in the gap
    assert Image.open(tmp_path / "w.png").format == "PNG"
    labels = np.zeros((40, 40), np.uint8)
    labels[5:15, 5:15], labels[15:25, 5:15], labels[30:35, 30:35] = 1, 2, 3  # touching cells, kept apart by id
    Image.fromarray(labels, "L").save(tmp_path / "labels.png")
    assert main(["weight-map", str(tmp_path / "labels.png"), "-o", str(tmp_path / "w.pdf")]) == 0
    assert "3 cells (instance ids as given)" in capsys.readouterr().out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["binary.png", "labels.png", "w.pdf", "w.png"]


def test_help_explains_every_subcommand_and_option(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    top = capsys.readouterr().out
    for sub, options in {"experiments": ["--only", "--list", "--quick", "--out", "--device", "--seeds"],
                         "style-transfer": ["--size", "--steps", "--content-weight", "--balance", "--style-weight",
                                            "--tv-balance", "--tv-weight", "--init"],
                         "texture": ["--size", "--steps"], "compare": ["--json", "--resize"],
                         "weight-map": ["--w0", "--sigma"]}.items():
        assert sub in top
        assert main([sub, "--help"]) == 0
        text = capsys.readouterr().out
        for option in options:
            assert option in text, (sub, option)


def test_help_does_not_import_the_experiments() -> None:
    code = ("import sys, contextlib, io\nfrom imagelosses.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()): main(['--help'])\n"
            "print(sorted(m for m in sys.modules if m.startswith('imagelosses.experiments') or m in "
            "('matplotlib', 'PIL', 'skimage', 'sklearn')))")
    out = subprocess.run([PY, "-c", code], capture_output=True, text=True, env=CHILD_ENV, check=True).stdout
    assert out.strip() == "[]"


# --- sizes, progress and time ----------------------------------------------------------------------------------

def test_the_size_bound_follows_the_memory_estimate() -> None:
    free = available_memory(torch.device("cpu"))
    limit = largest_size(free)
    assert 256 <= limit < 100_000  # the default fits on any machine that runs the tests; 100000 px fits on none
    assert largest_size(10**9) < largest_size(10**10) and largest_size(0) == 0


def test_progress_prints_an_estimate_and_a_running_eta_without_a_terminal() -> None:
    stream = io.StringIO()  # not a terminal: lines, no bar
    with StepProgress(20, "texture", stream=stream) as progress:
        for done in range(1, 21):
            progress(done, 20)
    lines = stream.getvalue().splitlines()
    estimates = [line for line in lines if " in all (" in line]
    assert len(estimates) == 1 and estimates[0].startswith("texture: about ")
    assert "s per step x 20 steps" in estimates[0]
    etas = [line for line in lines if "ETA" in line]
    assert 5 <= len(etas) <= 11 and etas[-1].startswith("texture: 20/20 steps")
    assert [format_duration(s) for s in (4.4, 200, 3900)] == ["4 s", "3 min 20 s", "1 h 05 min"]


def test_texture_prints_its_time_estimate(files: dict[str, Path], tmp_path: Path, oxford_cache: str) -> None:  # noqa: F811
    out = tmp_path / "t.png"
    result = subprocess.run([PY, "-m", "imagelosses", "texture", str(files["rgb"]), "-o", str(out), "--size", "16",
                             "--steps", "6"], env={**CHILD_ENV, CACHE_ENV: oxford_cache}, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "texture: about " in result.stderr and "s per step x 6 steps" in result.stderr
    assert "ETA" in result.stderr and out.is_file()


def test_help_states_the_expected_times(capsys: pytest.CaptureFixture[str]) -> None:
    for sub in ("style-transfer", "texture"):
        assert main([sub, "--help"]) == 0
        text = " ".join(capsys.readouterr().out.split())
        assert "Time: at the defaults (--size 256, --steps 200) one run took " in text
        assert "MINUTES" not in text and "ETA" in text


# --- permissions -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("umask", [0o022, 0o077])
def test_outputs_follow_the_umask(umask: int, tmp_path: Path) -> None:
    """Files written through the atomic helper get ``0o666 & ~umask`` and the experiment folders (made with
    mkdtemp, then renamed) ``0o777 & ~umask``: what ``open`` and ``mkdir`` give, not mkstemp's owner-only."""
    mask = np.zeros((24, 24), np.uint8)
    mask[4:10, 4:10] = 255
    Image.fromarray(mask, "L").save(tmp_path / "mask.png")
    out = tmp_path / "run"
    script = (f"import sys; sys.path.insert(0, {str(TESTS.parent)!r})\n"
              "from tests.test_cli import TINY\nfrom imagelosses.experiments.registry import register\n"
              "register(TINY)\nfrom imagelosses.cli import main\n"
              f"assert main(['weight-map', {str(tmp_path / 'mask.png')!r}, '-o', {str(tmp_path / 'w.png')!r}]) == 0\n"
              "sys.exit(main(['experiments', '--only', 'test-tiny', '--quick', '--seeds', '1', "
              f"'--out', {str(out)!r}]))")
    result = subprocess.run([PY, "-c", script], env=CHILD_ENV, capture_output=True, text=True, umask=umask,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    files = [tmp_path / "w.png", out / "report.html", out / "results.json", *(out / "test-tiny").iterdir()]
    folders = [out, out / "test-tiny"]
    assert len(files) == 5
    want_file, want_folder = ("-rw-r--r--", "drwxr-xr-x") if umask == 0o022 else ("-rw-------", "drwx------")
    assert {p.name: stat.filemode(p.stat().st_mode) for p in files} == {p.name: want_file for p in files}
    assert {p.name: stat.filemode(p.stat().st_mode) for p in folders} == {p.name: want_folder for p in folders}


# --- experiments end to end --------------------------------------------------------------------------------------

def test_list_shows_every_experiment_even_missing_ones(registered: None, capsys: pytest.CaptureFixture[str],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(registry.BUILTIN, "not-written", "no_such_module_anywhere")
    assert main(["experiments", "--list"]) == 0
    out = capsys.readouterr().out
    for name in [*registry.BUILTIN, "test-tiny"]:
        assert name in out
    assert "not-written" in out and "unavailable" in out
    assert "A line fitted by gradient descent" in out


def test_a_missing_experiment_module_fails_loudly(registered: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setitem(registry.BUILTIN, "not-written", "no_such_module_anywhere")
    assert main(["experiments", "--only", "test-tiny", "not-written", "--quick", "--out", str(tmp_path / "run")]) == 2
    assert capsys.readouterr().err == ("imagelosses: error: experiment 'not-written': expected an importable module "
                                       "imagelosses.experiments.no_such_module_anywhere, got no such module\n")
    assert main(["experiments", "--quick", "--out", str(tmp_path / "run")]) == 2  # all: this one is missing
    err = capsys.readouterr().err
    assert err.startswith("imagelosses: error: experiment '") and err.endswith(", got no such module\n")
    assert not (tmp_path / "run").exists() or list((tmp_path / "run").iterdir()) == []


def test_quick_run_end_to_end(registered: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    assert main(["experiments", "--only", "test-tiny", "--quick", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "test-tiny" in printed and "holds" in printed and f"report: {out / 'report.html'}" in printed
    assert sorted(p.name for p in out.iterdir()) == ["report.html", "results.json", "test-tiny"]
    assert sorted(p.name for p in (out / "test-tiny").iterdir()) == ["data.png", "loss.png"]
    data = json.loads((out / "results.json").read_text())
    (e,) = data["experiments"]
    assert data["config"] == {"size": "quick", "device": "cpu", "seeds": [0, 1, 2]}
    assert set(data["versions"]) >= {"python", "torch", "imagelosses"}
    assert e["config"] == {"points": 64, "steps": 100} and e["seeds"] == [0, 1, 2]
    assert len(e["metrics"]["slope_error"]["per_seed"]) == 3 and len(e["seed_wall_time_s"]) == 3
    assert e["verdict"]["label"] == "holds" and e["wall_time_s"] > 0
    assert [f["path"] for f in e["figures"]] == ["test-tiny/loss.png", "test-tiny/data.png"]
    assert data["command"][:2] == ["imagelosses", "experiments"]


def test_seed_perturbation_changes_every_number(registered: None, tmp_path: Path) -> None:
    def run(first: int, folder: str) -> dict[str, list[float]]:
        assert main(["experiments", "--only", "test-tiny", "--quick", "--seeds", "2", "--first-seed", str(first),
                     "--out", str(tmp_path / folder)]) == 0
        e = json.loads((tmp_path / folder / "results.json").read_text())["experiments"][0]
        return {k: v["per_seed"] for k, v in e["metrics"].items()}

    a, again, b = run(0, "a"), run(0, "again"), run(1, "b")
    assert a == again  # the numbers come from the seeded run, reproducibly
    assert a["slope_error"][1] == b["slope_error"][0]  # seed 1 is seed 1 wherever it runs
    assert a["slope_error"][0] != b["slope_error"][0] and a["final_loss"][0] != b["final_loss"][0]
    report = (tmp_path / "b" / "report.html").read_text()
    for values in b.values():
        for v in values:
            assert f"{v:.4g}" in report


def test_a_failing_experiment_is_reported_and_the_others_still_run(registered: None, tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    assert main(["experiments", "--only", "test-broken", "test-tiny", "--quick", "--out", str(out)]) == 1
    captured = capsys.readouterr()
    assert "the broken experiment broke" in captured.err and "ERROR" in captured.out
    assert sorted(p.name for p in out.iterdir()) == ["report.html", "results.json", "test-tiny"]
    by_name = {e["name"]: e for e in json.loads((out / "results.json").read_text())["experiments"]}
    broken, tiny = by_name["test-broken"], by_name["test-tiny"]
    assert broken["status"] == "error" and broken["verdict"] is None and broken["figures"] == []
    assert broken["error"] == "RuntimeError: the broken experiment broke"
    assert tiny["status"] == "ok"


def test_ctrl_c_leaves_no_partial_file(tmp_path: Path) -> None:
    out, marker = tmp_path / "run", tmp_path / "marker"
    script = (f"import sys; sys.path.insert(0, {str(TESTS.parent)!r})\n"
              "from tests.test_cli import SLOW, TINY\nfrom imagelosses.experiments.registry import register\n"
              "register(TINY); register(SLOW)\nfrom imagelosses.cli import main\n"
              f"sys.exit(main(['experiments', '--only', 'test-tiny', 'test-slow', '--quick', '--out', {str(out)!r}]))")
    proc = subprocess.Popen([PY, "-c", script], env={**CHILD_ENV, "IMAGELOSSES_TEST_MARKER": str(marker)},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not marker.exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert marker.exists(), proc.communicate()[1]
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 130, stderr
    assert stderr.strip().splitlines()[-1] == "imagelosses: error: interrupted; no partial output was left"
    # the completed experiment's figures stay (complete files); no report, no results, no staging folder
    assert sorted(p.name for p in out.iterdir()) == ["test-tiny"]
    assert sorted(p.name for p in (out / "test-tiny").iterdir()) == ["data.png", "loss.png"]
