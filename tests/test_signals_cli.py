"""Stop signals and concurrent runs on the command line: real subprocesses, real signals.

Each child is ``deltaprop train`` with one seam patched to report on stderr where it is (an
epoch ended, the checkpoint is being written, the data are loading, the plots are drawn) and
to linger there, so the parent's signal lands exactly in that stage. The promises (issue 16):
SIGINT, SIGTERM and SIGHUP all end in a checkpoint and a message saying how to resume, on
every path; a second signal during the checkpoint write waits for it; one writer per
``--out``; ``--resume`` ends bit for bit as a run never interrupted.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from deltaprop.cli import main
from deltaprop.io import load_checkpoint, load_model

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGHUP"), reason="POSIX signals")

# stage -> (module attribute to wrap, the line reported, seconds to linger)
_CHILD = """
import sys, time
import deltaprop.training as training
import deltaprop.workflow as workflow
import deltaprop.plots as plots

def report(line, linger):
    sys.stderr.write(line + "\\n")
    sys.stderr.flush()
    time.sleep(linger)

class Report:
    def on_epoch_end(self, state, net):
        report(f"epoch {state.epoch}", 0.05)

_fit = training.fit
def fit(*args, **kwargs):
    kwargs["callbacks"] = [*kwargs.get("callbacks", ()), Report()]
    return _fit(*args, **kwargs)
training.fit = fit

_save_checkpoint = workflow.save_checkpoint
def save_checkpoint(*args, **kwargs):
    report("writing the checkpoint", 0.5)
    result = _save_checkpoint(*args, **kwargs)
    report("checkpoint written", 0)
    return result
workflow.save_checkpoint = save_checkpoint

_load_data = workflow.load_data
def load_data(*args, **kwargs):
    report("loading", 0.5)
    return _load_data(*args, **kwargs)
workflow.load_data = load_data

_plot_loss = plots.plot_loss
def plot_loss(*args, **kwargs):
    report("plotting", 30)
    return _plot_loss(*args, **kwargs)
plots.plot_loss = plot_loss

from deltaprop.cli import main
main(sys.argv[1:])
"""


def _write_csv(path, m=300, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(m, 3))
    y = 2 * X[:, 0] - X[:, 1] + 0.5 * X[:, 2] + 0.1 * rng.normal(size=m)
    path.write_text(
        "x0,x1,x2,y\n"
        + "".join(",".join(repr(float(v)) for v in (*x, t)) + "\n" for x, t in zip(X, y))
    )


def _settings(data, epochs=40):
    return [
        "--data", data, "--hidden", "8", "--epochs", epochs, "--patience", 0, "--seed", 5,
        "--batch-size", 50, "--checkpoint-every", 1000,
    ]  # fmt: skip


def cli(capsys, *args):
    with pytest.raises(SystemExit) as info:
        main([str(a) for a in args])
    out, err = capsys.readouterr()
    return info.value.code, out, err


class Child:
    """``deltaprop train ARGS`` in a subprocess whose stderr is read line by line."""

    def __init__(self, *args):
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _CHILD, "train", *map(str, args)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []

    def wait_for(self, wanted, timeout=120):
        deadline = time.monotonic() + timeout
        while not self.lines or self.lines[-1] != wanted:
            line = self.proc.stderr.readline()
            assert line, f"the child ended before {wanted!r}: {self.lines}"
            self.lines.append(line.strip())
            assert time.monotonic() < deadline, f"no {wanted!r} after {timeout} s"

    def finish(self):
        rest = self.proc.stderr.read()
        code = self.proc.wait(timeout=120)
        return code, "\n".join(self.lines) + "\n" + rest


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The uninterrupted run's files (in a subprocess: its own process, as the others)."""
    folder = tmp_path_factory.mktemp("reference")
    data = folder / "d.csv"
    _write_csv(data)
    child = Child(*_settings(data), "--no-plots", "--out", folder / "A")
    code, err = child.finish()
    assert code == 0, err
    files = {n: (folder / "A" / n).read_bytes() for n in ("model.safetensors",)}
    return data, files


@pytest.mark.parametrize("sig", ["SIGTERM", "SIGHUP"])
def test_sigterm_and_sighup_end_in_a_checkpoint_and_resume_bit_for_bit(
    tmp_path, capsys, reference, sig
):
    data, expected = reference
    out = tmp_path / "B"
    child = Child(*_settings(data), "--no-plots", "--out", out)
    child.wait_for("epoch 3")
    child.proc.send_signal(getattr(signal, sig))
    code, err = child.finish()
    assert code == 128 + getattr(signal, sig), err
    assert f"deltaprop: interrupted ({sig}) during epoch" in err and "Traceback" not in err
    assert f"resume with: deltaprop train --out {out} --resume" in err
    stopped = load_checkpoint(out / "checkpoint.safetensors").state.epoch
    assert f"saved the run as it was after epoch {stopped}" in err and 3 <= stopped < 40
    assert not (out / ".deltaprop.lock").exists()
    code, _, err = cli(capsys, "train", "--out", out, "--resume", "--no-plots", "--json")
    assert code == 0, err
    assert (out / "model.safetensors").read_bytes() == expected["model.safetensors"]


def test_a_second_sigint_during_the_checkpoint_write_waits_for_it(tmp_path, reference):
    data, _ = reference
    out = tmp_path / "B"
    child = Child(*_settings(data), "--no-plots", "--out", out)
    child.wait_for("epoch 3")
    child.proc.send_signal(signal.SIGINT)
    child.wait_for("writing the checkpoint")  # the interrupt's own checkpoint, 0.5 s long
    child.proc.send_signal(signal.SIGINT)
    code, err = child.finish()
    assert code == 130, err
    assert "checkpoint written" in err and "resume with:" in err and "Traceback" not in err
    assert load_checkpoint(out / "checkpoint.safetensors").state.epoch >= 3
    assert sorted(p.name for p in out.iterdir()) == ["checkpoint.safetensors"]


def test_sigint_while_loading_writes_nothing_and_says_so(tmp_path, reference):
    data, _ = reference
    out = tmp_path / "new"
    child = Child(*_settings(data), "--no-plots", "--out", out)
    child.wait_for("loading")
    child.proc.send_signal(signal.SIGINT)
    code, err = child.finish()
    assert code == 130, err
    assert "deltaprop: interrupted while loading; nothing was written" in err
    assert "nothing to resume: run it again" in err and "Traceback" not in err
    assert not out.exists()


def test_sigint_while_plotting_keeps_the_run_and_resume_writes_the_plots(
    tmp_path, capsys, reference
):
    data, _ = reference
    out = tmp_path / "B"
    child = Child(*_settings(data, epochs=5), "--out", out)
    child.wait_for("plotting")
    child.proc.send_signal(signal.SIGINT)
    code, err = child.finish()
    assert code == 130, err
    assert "while writing the model and the plots (resume writes them)" in err
    assert f"resume with: deltaprop train --out {out} --resume" in err
    assert load_checkpoint(out / "checkpoint.safetensors").state.finished
    assert not (out / "loss.png").exists()
    code, _, err = cli(capsys, "train", "--out", out, "--resume", "--json")
    assert code == 0, err
    assert (out / "loss.png").exists() and (out / "gradients.png").exists()


def test_one_writer_per_out_folder(tmp_path, capsys, reference):
    data, _ = reference
    out = tmp_path / "B"
    child = Child(*_settings(data), "--no-plots", "--out", out)
    try:
        child.wait_for("epoch 2")
        before = sorted(p.name for p in out.iterdir())
        code, _, err = cli(capsys, "train", *_settings(data), "--no-plots", "--out", out)
        assert code == 2, err
        assert f"--out {out} is in use by another deltaprop run (process {child.proc.pid}: " in err
        assert "deltaprop train" in err
        assert sorted(p.name for p in out.iterdir()) == before
    finally:
        child.proc.kill()
        child.proc.wait()


@pytest.mark.slow
@pytest.mark.skipif(
    not os.environ.get("DELTAPROP_SLOW"), reason="starts a Dask LocalCluster: DELTAPROP_SLOW=1"
)
def test_sigint_on_dask_writes_a_checkpoint(tmp_path, reference):
    pytest.importorskip("distributed")
    data, _ = reference
    out = tmp_path / "D"
    child = Child(*_settings(data, epochs=200), "--no-plots", "--scheduler", "local", "--out", out)
    child.wait_for("epoch 2", timeout=300)
    child.proc.send_signal(signal.SIGINT)
    code, err = child.finish()
    assert code == 130, err
    assert "saved the run as it was after epoch" in err and "resume with:" in err
    assert load_checkpoint(out / "checkpoint.safetensors").state.epoch >= 2


# --- in-process: settings on resume, divergence, a read-only folder, names as text ----------


def test_checkpoint_every_is_restored_on_resume(tmp_path, capsys):
    data = tmp_path / "d.csv"
    _write_csv(data, 100)
    out = tmp_path / "run"
    args = ["--data", data, "--hidden", "4", "--patience", 0, "--no-plots", "--out", out]
    assert cli(capsys, "train", *args, "--epochs", 2, "--checkpoint-every", 3)[0] == 0
    (out / "model.safetensors").unlink()  # resuming the finished run writes it again
    assert cli(capsys, "train", "--out", out, "--resume", "--no-plots")[0] == 0
    settings = load_model(out / "model.safetensors").metadata["settings"]
    assert settings["checkpoint_every"] == 3 and settings["epochs"] == 2


def test_divergence_in_the_last_batch_is_an_error(tmp_path, capsys):
    data = tmp_path / "d.csv"
    _write_csv(data, 100)
    out = tmp_path / "run"
    code, stdout, err = cli(
        capsys, "train", "--data", data, "--lr", "1e150", "--batch-size", 1000,
        "--epochs", 1, "--no-plots", "--out", out, "--json",
    )  # fmt: skip
    assert code == 2 and stdout == "", err
    assert "at epoch 1 (learning rate 1e+150): training diverged" in err
    assert not (out / "model.safetensors").exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_out_is_refused_before_training(tmp_path, capsys):
    data = tmp_path / "d.csv"
    _write_csv(data, 100)
    out = tmp_path / "ro"
    out.mkdir()
    out.chmod(0o555)
    try:
        code, _, err = cli(capsys, "train", "--data", data, "--no-plots", "--out", out)
    finally:
        out.chmod(0o755)
    assert code == 2 and "cannot write there" in err and "nothing was trained" in err


def test_tampered_settings_are_refused_by_name(tmp_path, capsys):
    data = tmp_path / "d.csv"
    _write_csv(data, 100)
    out = tmp_path / "run"
    args = ["--data", data, "--hidden", "4", "--epochs", 2, "--no-plots", "--out", out]
    assert cli(capsys, "train", *args)[0] == 0
    ckpt = out / "checkpoint.safetensors"
    raw = ckpt.read_bytes()
    n = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8 : 8 + n])
    meta = json.loads(header["__metadata__"]["deltaprop"])

    def rewrite(settings):
        from safetensors.numpy import load as st_load
        from safetensors.numpy import save_file

        m = dict(meta, settings=settings)
        save_file(st_load(raw), ckpt, metadata={"deltaprop": json.dumps(m)})

    secret = tmp_path / "secret.txt"
    secret.write_text("root:the-first-line-of-a-private-file\n")
    for settings, needle in (
        ({}, "the settings lack data"),
        (dict(meta["settings"], data=str(secret)), "has changed since the checkpoint"),
        (dict(meta["settings"], data=str(secret), data_sha256=None), "without its SHA-256"),
        (dict(meta["settings"], data_sha256="x"), "data_sha256 must be 64 hex digits"),
        (dict(meta["settings"], target=[1]), "target must be column names"),
        (dict(meta["settings"], epochs=0), "epochs must be >= 1"),
        (dict(meta["settings"], lr="NaN"), "lr must be > 0"),
    ):
        rewrite(settings)
        code, _, err = cli(capsys, "train", "--out", out, "--resume")
        assert code == 2 and needle in err, err
        assert "the-first-line" not in err and "Traceback" not in err


def test_names_from_files_print_as_text(tmp_path, capsys):
    data = tmp_path / "d.csv"
    _write_csv(data, 60)
    text = data.read_text().replace(
        "x0,x1,x2,y", "[/y],price [usd],a\x1b[2Jb,[link=http://evil]y[/link]"
    )
    data.write_text(text)
    out = tmp_path / "runs" / "[" / "x]"  # --out "runs/[/x]"
    args = ["--data", data, "--hidden", "4", "--epochs", 2, "--no-plots", "--out", out]
    code, stdout, err = cli(capsys, "train", *args)
    assert code == 0, err
    assert "[/x]" in stdout and "\x1b[2J" not in stdout
    code, stdout, err = cli(
        capsys,
        "predict",
        "--model",
        out / "model.safetensors",
        "--data",
        data,
        "--out",
        tmp_path / "p.csv",
    )
    assert code == 0, err
    assert "[link=http://evil]y[/link]" in stdout and "\x1b]8;" not in stdout
    code, stdout, err = cli(
        capsys, "predict", "--model", out / "model.safetensors", "--data", data, "--json"
    )
    assert code == 0 and json.loads(stdout)["target_names"] == ["[link=http://evil]y[/link]"]
    code, stdout, err = cli(
        capsys, "evaluate", "--model", out / "model.safetensors", "--data", data
    )
    assert code == 0 and "[link=http://evil]y[/link]" in stdout, err
    bad = tmp_path / "bad\x1b[2J.csv"  # a file name with an escape sequence, in an error
    bad.write_text("a,y\n1,\n")
    code, _, err = cli(capsys, "train", "--data", bad, "--out", tmp_path / "o")
    assert code == 2 and "\x1b" not in err and "\\x1b" in err, err


def test_a_dask_run_resumes_on_dask_only(tmp_path, capsys):
    """Dask trains one full batch per epoch: resumed in memory (mini-batches) it would end
    elsewhere, so the setting is kept and a resume that disagrees is refused."""
    from deltaprop.workflow import TrainSettings

    data = tmp_path / "d.csv"
    _write_csv(data, 60)
    out = tmp_path / "run"
    args = ["--data", data, "--hidden", "4", "--epochs", 2, "--no-plots", "--out", out]
    assert cli(capsys, "train", *args)[0] == 0
    code, _, err = cli(capsys, "train", "--out", out, "--resume", "--scheduler", "local")
    assert code == 2 and "was trained in memory; resume it without --scheduler" in err, err
    settings = load_checkpoint(out / "checkpoint.safetensors").settings
    assert "dask" not in settings  # in-memory runs write what they wrote before
    dask_run = TrainSettings.from_dict({**settings, "dask": True})
    assert dask_run.to_dict()["dask"] is True
