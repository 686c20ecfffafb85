"""Every `baoxue ...` command the operations README tells an operator to run exists, with the options it uses."""

from __future__ import annotations


import typer

from devstack.cli import app
from tests.deploy.manifests import ROOT

SUBCOMMANDS = {"run", "registry", "reporting", "attendance", "dev-token", "contracts", "roles", "print-settings",
               "deadletters"}
README = (ROOT / "deploy" / "README.md").read_text(encoding="utf-8")


def _commands() -> list[list[str]]:
    """The words after each `baoxue` (or `.venv/bin/baoxue`) up to a pipe, `&&`, a comment or the end of the line."""
    found = []
    for line in README.splitlines():
        tokens = line.replace("`", " ").split()
        for i, token in enumerate(tokens):
            if token == "baoxue" or token.endswith("/bin/baoxue"):
                words = []
                for word in tokens[i + 1:]:
                    if word in {"|", "&&", ";", "\\"} or word.startswith("#"):
                        break
                    words.append(word)
                if words and words[0] in SUBCOMMANDS:
                    found.append(words)
    return found


def test_readme_commands_exist() -> None:
    commands = _commands()
    assert ["registry", "rotate-keys"] in commands and ["reporting", "rebuild", "--quiet"] in commands
    assert ["deadletters", "replay", "casework", "--all"] in commands
    root = typer.main.get_command(app)
    for words in commands:
        command = root
        rest = list(words)
        while rest and hasattr(command, "commands") and rest[0] in command.commands:
            command = command.commands[rest.pop(0)]
        assert not hasattr(command, "commands"), words
        options = {o for p in command.params for o in getattr(p, "opts", [])}
        for word in rest:
            if word.startswith("--"):
                assert word.split("=")[0] in options, (words, word)
