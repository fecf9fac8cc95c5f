"""docs/derivation.md: every link resolves to a file, and every linked name to a definition.

A link ``[`Network.backward`](../src/deltaprop/network.py)`` must point to an existing file,
and the name in its code span must be defined there (found with ``ast``: a top-level function,
class or assignment, then attributes of a class). A link
``[`tests/test_network.py::test_hand_worked_2_2_1`](../tests/test_network.py)`` must name the
file it points to and a test function defined in it. Anchors (``#section``) must match a
heading. So renaming or deleting a linked function or test fails this file.

The document's shape is checked too: every result in the top table with its code and its test,
a short answer opening each task, the summary box, the figures drawn by
docs/figures/make_figures.py, and the document shipped in the wheel. Its numbers are checked by
tests/test_derivation_numbers.py.
"""

from __future__ import annotations

import ast
import functools
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "derivation.md"

LINK = re.compile(r"(!?)\[((?:[^\[\]]|\[[^\]]*\])*)\]\(([^)\s]+)\)")
CODE = re.compile(r"^`([^`]+)`$")


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*_$\\]", "", heading.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


@functools.cache
def _definitions(path: Path) -> dict[str, set[str]]:
    """{top-level name: names defined in its body (for classes)} of a Python file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: dict[str, set[str]] = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            found[node.name] = set()
        elif isinstance(node, ast.ClassDef):
            members = set()
            for item in node.body:
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                    members.add(item.name)
                elif isinstance(item, (ast.Assign, ast.AnnAssign)):
                    targets = item.targets if isinstance(item, ast.Assign) else [item.target]
                    members |= {t.id for t in targets if isinstance(t, ast.Name)}
            found[node.name] = members
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for t in targets:
                for name in ast.walk(t):
                    if isinstance(name, ast.Name):
                        found[name.id] = set()
    return found


def _resolve_name(name: str, path: Path) -> str | None:
    """None if the dotted ``name`` is defined in the Python file ``path``, else why not."""
    parts = name.split(".")
    module = list(path.relative_to(ROOT).with_suffix("").parts)
    # a leading module path ("graph.backprop.backprop") is the file itself: strip it
    for k in range(len(parts) - 1, 0, -1):
        if module[-k:] == parts[:k]:
            parts = parts[k:]
            break
    defs = _definitions(path)
    if parts[0] not in defs:
        return f"{parts[0]!r} is not defined at the top level of {path.relative_to(ROOT)}"
    if len(parts) == 2 and parts[1] not in defs[parts[0]]:
        return f"{parts[0]} in {path.relative_to(ROOT)} defines no {parts[1]!r}"
    if len(parts) > 2:
        return f"{name!r}: only Name or Class.member can be checked"
    return None


def link_problems(text: str, doc: Path) -> list[str]:
    """Every broken link of the markdown ``text`` of ``doc``, as one line each."""
    anchors = {_slug(h) for h in re.findall(r"^#{1,6}\s+(.*)$", text, flags=re.M)}
    problems = []
    for bang, label, target in LINK.findall(text):
        if re.match(r"^[a-z]+:", target):  # http:, https:, mailto:
            continue
        file_part, _, anchor = target.partition("#")
        if not file_part:
            if anchor not in anchors:
                problems.append(f"[{label}]({target}): no heading with anchor #{anchor}")
            continue
        path = (doc.parent / file_part).resolve()
        if ROOT not in path.parents or not path.exists():
            problems.append(f"[{label}]({target}): {file_part} does not exist")
            continue
        code = CODE.match(label.strip())
        if bang or code is None:
            continue
        name = code.group(1)
        rel = path.relative_to(ROOT).as_posix()
        if "::" in name:
            file_name, _, test = name.partition("::")
            if file_name != rel:
                problems.append(f"[{label}]({target}): names {file_name} but links to {rel}")
                continue
            test = test.split("[")[0]
            if test not in _definitions(path):
                problems.append(f"[{label}]({target}): {rel} defines no {test!r}")
        elif "/" in name or name.endswith((".py", ".md", ".png")):
            if name != rel:
                problems.append(f"[{label}]({target}): names {name} but links to {rel}")
        elif path.suffix == ".py":
            why = _resolve_name(name, path)
            if why:
                problems.append(f"[{label}]({target}): {why}")
    return problems


@pytest.fixture(scope="module")
def text():
    return DOC.read_text(encoding="utf-8")


def test_every_link_resolves(text):
    assert LINK.findall(text), "no links found: the pattern is broken"
    problems = link_problems(text, DOC)
    assert not problems, "broken links in docs/derivation.md:\n" + "\n".join(problems)


def test_the_checker_catches_broken_links():
    # a file that does not exist, a name not defined, a test not defined, a wrong file name,
    # an anchor without a heading; and two good links that must pass
    bad = "\n".join(
        [
            "# Title",
            "[`gone`](../src/deltaprop/no_such_module.py)",
            "[`Network.backwards`](../src/deltaprop/network.py)",
            "[`no_such_function`](../src/deltaprop/network.py)",
            "[`tests/test_network.py::test_not_there`](../tests/test_network.py)",
            "[`tests/test_losses.py::test_mse_hand_worked`](../tests/test_network.py)",
            "[see](#no-such-section)",
            "[`Network.backward`](../src/deltaprop/network.py) [`relu`](../src/deltaprop/activations.py)",
            "[`tests/test_network.py::test_hand_worked_2_2_1`](../tests/test_network.py) [t](#title)",
        ]
    )
    problems = link_problems(bad, DOC)
    assert len(problems) == 6, problems
    for fragment in (
        "no_such_module.py does not exist",
        "no 'backwards'",
        "'no_such_function' is not defined",
        "no 'test_not_there'",
        "names tests/test_losses.py but links to tests/test_network.py",
        "#no-such-section",
    ):
        assert any(fragment in p for p in problems), fragment


def _results_table(text):
    """The rows of the table that starts with "| result |"."""
    start = text.index("| result |")
    table = text[start:].split("\n\n")[0].splitlines()
    return [line for line in table if re.match(r"^\| \d+ \|", line)]


def test_every_result_links_its_code_and_its_test(text):
    lines = _results_table(text)
    rows = [int(line.split("|")[1]) for line in lines]
    assert rows == list(range(1, len(rows) + 1)) and len(rows) >= 10
    for line in lines:
        targets = [t for _, _, t in LINK.findall(line)]
        assert any(t.startswith("../src/") for t in targets), line
        assert any(t.startswith("../tests/") for t in targets), line
    # and each numbered result is stated in the text with its links
    for n in range(1, len(rows) + 1):
        assert re.search(rf"\*\*Result {n}\b", text), f"Result {n} is not stated in the text"


def test_math_blocks_are_balanced_for_github(text):
    body = re.sub(r"```.*?```", "", text, flags=re.S)  # code blocks hold no math
    blocks = re.findall(r"\$\$(.*?)\$\$", body, flags=re.S)
    assert len(re.findall(r"\$\$", body)) == 2 * len(blocks)
    inline = re.findall(
        r"(?<!\$)\$(?!\$)([^$\n]+?)\$(?!\$)", re.sub(r"\$\$.*?\$\$", "", body, flags=re.S)
    )
    assert len(inline) > 50
    for math in blocks + inline:
        assert math.count("{") == math.count("}"), math
        assert "\\begin{align}" not in math, "GitHub needs \\begin{aligned} inside $$"
        assert math.count("\\left") == math.count("\\right"), math


def test_the_slips_of_the_exercise_are_all_addressed(text):
    # the reference's list (shared/reference/backprop-exercise.md), each with its correction
    for phrase in (
        r"\max(0, 1) = 1",  # ReLU' written as 1
        r"\mathbf{1}[z > 0]",  # ... the step
        "summed over the outputs",  # MSE derivative
        "norm of the whole matrix",  # MSE written with the matrix norm
        r"W^{[L+1]}",  # the weight that does not exist
        r"\delta^{[L-1]} A^{[L-2]\top}",  # the right δ for W^[L-1]
        r"\delta^{[l]} \mathbf{1}_m",  # the bias sum
        "numerator layout",  # the Jacobians, defined
        r"l = 1, \dots, L-1",  # the layer numbering
        "6.50–6.53",  # the printings' equation numbers, and the section cited instead
        "6.5.2–6.5.3",
        "deltaprop blowup --family fanout --max-depth 30 --plot docs/blowup.png",
        "product of the fan-outs",  # the exercise's Task 3 answer overstates the paths
        "two chains",
    ):
        assert phrase in text, phrase


# --- the shape of the document: teachable, and shipped ---------------------------------------


def _sections(text, level="## "):
    """{heading: body} for the headings of one level."""
    parts = re.split(rf"^{level}(.*)$", text, flags=re.M)
    return dict(zip(parts[1::2], parts[2::2]))


def test_each_task_opens_with_a_short_answer(text):
    tasks = {h: body for h, body in _sections(text).items() if "Task" in h}
    assert len(tasks) == 3, list(tasks)
    for heading, body in tasks.items():
        first = body.strip().split("\n\n")[0]
        assert first.startswith("**Short answer.**"), heading


def test_the_summary_box_states_the_four_equations_with_shapes(text):
    box = text[text.index("> **The four equations.**") :].split("\n\n")[0]
    rows = [
        r
        for r in box.splitlines()
        if r.startswith("> | (") or r.startswith("> | w") or r.startswith("> | b")
    ]
    assert [r.split("|")[1].strip() for r in rows] == ["(ii)", "(i)", "weights", "biases"]
    for r in rows:
        assert r.count("(n_") >= 2, r  # each with the shapes of both sides


def test_implemented_and_checked_live_in_the_table_only(text):
    body = text[text.index("## 1.") :]
    for phrase in ("Implemented in", "implemented in", "checked by", "Checked by"):
        assert phrase not in body, phrase


def _images(text):
    return [t for bang, _, t in LINK.findall(text) if bang]


def test_every_figure_is_drawn_by_the_script(text, tmp_path):
    import importlib.util

    pytest.importorskip("matplotlib")
    spec = importlib.util.spec_from_file_location(
        "make_figures", DOC.parent / "figures" / "make_figures.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    made = {p.name for p in module.main(tmp_path)}
    drawn = {Path(t).name for t in _images(text) if t.startswith("figures/")}
    assert drawn == made == {"network.svg", "graphs.svg"}
    for name in made:
        svg = (tmp_path / name).read_text(encoding="utf-8")
        assert svg.lstrip().startswith("<?xml") and "</svg>" in svg
        assert (DOC.parent / "figures" / name).is_file()  # and the drawing is committed


def test_every_image_and_the_document_ship_in_the_wheel_config(text):
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    shipped = config["tool"]["hatch"]["build"]["targets"]["wheel"]["force-include"]
    expected = {"docs/derivation.md": "deltaprop/docs/derivation.md"}
    for target in _images(text):
        expected[f"docs/{target}"] = f"deltaprop/docs/{target}"  # same relative paths
    assert shipped == expected


def test_derivation_path_names_this_document():
    """Editable install: the checkout's file; ``pip install .`` (as CI does): the packaged
    copy. Either way the same bytes as the checkout's document."""
    from deltaprop._docs import derivation_path

    path = derivation_path()
    assert path.is_file() and path.name == "derivation.md"
    assert path.read_bytes() == DOC.read_bytes()


def test_the_wheel_ships_the_derivation(tmp_path):
    import importlib.util
    import zipfile

    builders = pytest.importorskip("hatchling.builders.wheel")
    (wheel,) = builders.WheelBuilder(str(ROOT)).build(
        directory=str(tmp_path), versions=["standard"]
    )
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        assert z.read("deltaprop/docs/derivation.md") == DOC.read_bytes()
        for target in _images(DOC.read_text(encoding="utf-8")):
            assert f"deltaprop/docs/{target}" in names, target
        z.extractall(tmp_path / "site")
    # the installed helper names the packaged copy
    spec = importlib.util.spec_from_file_location(
        "_docs", tmp_path / "site" / "deltaprop" / "_docs.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.derivation_path() == tmp_path / "site" / "deltaprop" / "docs" / "derivation.md"


def test_derive_names_the_document_it_ships(capsys):
    """The path ``deltaprop derive`` prints is derivation_path()'s: the checkout's file in an
    editable install, the packaged copy under ``pip install .`` (CI); the same bytes either way."""
    import json

    from deltaprop._docs import derivation_path
    from deltaprop.cli import main

    for args in (["derive", "--json"], ["derive"]):
        with pytest.raises(SystemExit) as e:
            main(args)
        assert e.value.code == 0
        out = capsys.readouterr().out
        if "--json" in args:
            path = Path(json.loads(out)["derivation"])
            assert path == derivation_path() and path.read_bytes() == DOC.read_bytes()
        else:
            assert f"proof: {derivation_path()}" in out.replace("\n", "")
