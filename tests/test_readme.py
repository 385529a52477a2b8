"""The README starts with the two set-up commands, and CI runs the second verbatim."""

from conftest import REPO_ROOT


def _setup_commands():
    text = (REPO_ROOT / "README.md").read_text()
    block = text.split("```bash\n", 1)[1].split("```", 1)[0]
    return [line for line in block.splitlines() if line.strip()]


def test_readme_starts_with_exactly_two_setup_commands():
    lines = [line for line in (REPO_ROOT / "README.md").read_text().splitlines() if line.strip()]
    assert lines[0] == "# seqkeras" and lines[1] == "```bash"
    assert len(_setup_commands()) == 2


def test_ci_runs_exactly_the_readme_test_command():
    ci = (REPO_ROOT / ".ci" / "run").read_text().splitlines()
    assert _setup_commands()[1] in ci
