"""deltaprop explain / check and the --format/--dpi of every plot the CLI writes.

The numbers the command prints (JSON, terminal, page) are compared with references computed
here: central differences of the cost and torch autodiff in float64.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys

import numpy as np
import pytest
from typer.testing import CliRunner

import deltaprop as dp
from deltaprop.cli import app
from deltaprop.explain import format_number

runner = CliRunner()


def invoke(*args):
    r = runner.invoke(app, list(args), catch_exceptions=False)
    return r


def run(*args):
    return subprocess.run(
        [sys.executable, "-m", "deltaprop", *args], capture_output=True, text=True, timeout=300
    )


def _network(d):
    net = dp.Network(d["network"]["sizes"], hidden=d["network"]["hidden"])
    for k in d["W"]:
        net.W[int(k)] = np.array(d["W"][k])
        net.b[int(k)] = np.array(d["b"][k])
    return net, np.array(d["X"]), np.array(d["Y"])


def _central(net, X, Y, P, l, eps=1e-6):
    out = np.zeros_like(P[l])
    for idx in np.ndindex(out.shape):
        saved = P[l].copy()
        bump = np.zeros_like(saved)
        bump[idx] = eps
        P[l] = saved + bump
        plus = net.cost(X, Y)
        P[l] = saved - bump
        minus = net.cost(X, Y)
        P[l] = saved
        out[idx] = (plus - minus) / (2 * eps)
    return out


def test_json_gradients_equal_central_differences_and_torch():
    r = invoke("explain", "--json", "--seed", "2")
    assert r.exit_code == 0
    d = json.loads(r.stdout)
    assert d["network"]["sizes"] == [2, 3, 2, 1] and d["network"]["m"] == 3
    net, X, Y = _network(d)
    for l in (1, 2, 3):
        np.testing.assert_allclose(
            d["dW"][str(l)], _central(net, X, Y, net.W, l), rtol=1e-6, atol=1e-9
        )
        np.testing.assert_allclose(
            d["db"][str(l)], _central(net, X, Y, net.b, l), rtol=1e-6, atol=1e-9
        )
    torch = pytest.importorskip("torch")
    A, Zs = torch.tensor(X), []
    for l in (1, 2, 3):
        Z = torch.tensor(net.W[l], requires_grad=True) @ A + torch.tensor(net.b[l])
        Z.retain_grad()
        Zs.append(Z)
        A = torch.relu(Z) if l < 3 else Z
    (((A - torch.tensor(Y)) ** 2).sum() / 3).backward()
    for l in (1, 2, 3):
        np.testing.assert_allclose(
            d["delta"][str(l)], Zs[l - 1].grad.numpy(), rtol=1e-12, atol=1e-15
        )
    assert d["check"]["ok"] and d["check"]["max_rel_error"] < 1e-6


def test_terminal_shows_every_number():
    d = json.loads(invoke("explain", "--json").stdout)
    text = invoke("explain").stdout
    for name in ("Z", "A", "delta", "dW", "db"):
        for k, M in d[name].items():
            for row in M:
                for v in row:
                    assert format_number(v) in text, (name, k, v)
    assert "Equation (ii)" in text and "Equation (i)" in text and "W^[3]ᵀ" in text


def test_html_page_holds_the_json(tmp_path):
    page = tmp_path / "explain.html"
    r = invoke("explain", "--html", str(page), "--mistakes", "--json")
    d = json.loads(r.stdout)
    assert d["files"]["html"] == str(page)
    html = page.read_text(encoding="utf-8")
    embedded = json.loads(
        re.search(r'<script type="application/json" id="dp-data">(.*?)</script>', html, re.S)
        .group(1)
        .replace("<\\/", "</")
    )
    for key in ("W", "b", "Z", "A", "delta", "dW", "db", "J"):
        assert embedded[key] == d[key]
    assert [s["id"] for s in embedded["steps"]] == [s["id"] for s in d["steps"]]
    assert len(d["mistakes"]) == 3
    assert "<math" in html and "http://" not in html.replace("http://www.w3.org/2000/svg", "")


def test_numbering_and_sizes():
    d = json.loads(
        invoke(
            "explain", "--json", "--numbering", "exercise", "--sizes", "3,4,2", "--batch", "5"
        ).stdout
    )
    assert d["network"]["sizes"] == [3, 4, 2] and d["network"]["m"] == 5
    assert sorted(d["W"]) == ["2", "3"] and np.shape(d["A"]["1"]) == (3, 5)


def test_rows_of_a_csv_with_names_escaped(tmp_path):
    csv = tmp_path / "d.csv"
    csv.write_text("[bold]a,b[/],y\n1,2,3\n0.5,-1,2\n2,0,1\n9,9,9\n", encoding="utf-8")
    d = json.loads(invoke("explain", "--json", "--data", str(csv), "--target", "y").stdout)
    assert d["X"] == [[1.0, 0.5, 2.0], [2.0, -1.0, 0.0]] and d["Y"] == [[3.0, 2.0, 1.0]]
    assert d["network"]["sizes"] == [2, 3, 2, 1]
    assert d["network"]["feature_names"] == ["[bold]a", "b[/]"]
    text = invoke("explain", "--data", str(csv), "--target", "y").stdout
    assert "[bold]a" in text and "b[/]" in text


def test_control_characters_in_names_are_shown_not_sent(tmp_path):
    """An escape sequence in a column name reaches the terminal as visible text ``\\x1b``."""
    csv = tmp_path / "d.csv"
    csv.write_text("a\x1b[2Jz,b,y\n1,2,3\n0.5,-1,2\n2,0,1\n", encoding="utf-8")
    text = invoke("explain", "--data", str(csv), "--target", "y").stdout
    assert "\x1b" not in text
    assert "a\\x1b[2Jz" in text


def test_bad_usage_is_one_line_exit_2(tmp_path):
    csv = tmp_path / "d.csv"
    csv.write_text("a,b,y\n1,2,3\n0.5,-1,2\n2,0,1\n", encoding="utf-8")
    r = run("explain", "--data", str(csv), "--sizes", "3,2,1")
    assert r.returncode == 2 and "--sizes must start with 2" in r.stderr
    r = run("explain", "--numbering", "nielsen")
    assert r.returncode == 2 and "numbering" in r.stderr and "Traceback" not in r.stderr
    r = run("check", "open('x')", "--for", "dW")
    assert r.returncode == 2 and "unknown name 'open'" in r.stderr


def test_explain_plots_in_every_format(tmp_path):
    r = invoke("explain", "--plot", str(tmp_path / "n.svg"), "--deltas", str(tmp_path / "d.pdf"))
    assert r.exit_code == 0
    assert (tmp_path / "n.svg").read_bytes().startswith(b"<?xml")
    assert (tmp_path / "d.pdf").read_bytes().startswith(b"%PDF")
    invoke("explain", "--plot", str(tmp_path / "n.png"), "--dpi", "60")
    import matplotlib.image

    small = matplotlib.image.imread(tmp_path / "n.png").shape
    invoke("explain", "--plot", str(tmp_path / "n2.png"), "--dpi", "120")
    assert matplotlib.image.imread(tmp_path / "n2.png").shape[0] == 2 * small[0]


def test_check_correct_and_wrong():
    r = invoke("check", "delta[l] @ A[l-1].T", "--for", "dW")
    assert r.exit_code == 0 and r.stdout.startswith("correct")
    r = invoke("check", "delta[l]", "--for", "db", "--json")
    assert r.exit_code == 1
    d = json.loads(r.stdout)
    assert d["correct"] is False and d["counterexample"]["expected_shape"][1] == 1


def test_blowup_and_train_plots_take_format_and_dpi(tmp_path):
    r = invoke("blowup", "--max-depth", "3", "--budget", "0.2", "--plot", str(tmp_path / "b.svg"))
    assert r.exit_code == 0 and (tmp_path / "b.svg").read_bytes().startswith(b"<?xml")
    r = invoke("blowup", "--max-depth", "2", "--plot", str(tmp_path / "b.out"), "--format", "pdf")
    assert (tmp_path / "b.out").read_bytes().startswith(b"%PDF")
    out = tmp_path / "run"
    r = invoke("train", "--epochs", "2", "--out", str(out), "--format", "svg", "--json")
    assert r.exit_code == 0, r.stdout
    files = json.loads(r.stdout)["files"]
    assert files["loss_plot"].endswith("loss.svg") and files["gradients_plot"].endswith(".svg")
    assert (out / "loss.svg").read_bytes().startswith(b"<?xml")
