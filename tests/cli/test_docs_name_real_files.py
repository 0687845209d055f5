"""The help, the README and docs/ name only files that are in the repository (they used to
point readers to a DESIGN.md that is not)."""

from __future__ import annotations

import re
from pathlib import Path

from typer.main import get_command

from servicepulse.cli.main import app

ROOT = Path(__file__).parents[2]
OUTSIDE = ("DESIGN.md", "REFERENCES.md")


def _texts() -> dict[str, str]:
    texts = {str(path.relative_to(ROOT)): path.read_text(encoding="utf-8")
             for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]}

    def walk(command: object, name: str) -> None:
        parts = [getattr(command, "help", None) or ""]
        parts += [getattr(param, "help", None) or "" for param in getattr(command, "params", [])]
        texts[f"servicepulse {name} --help"] = "\n".join(parts)
        for sub_name, sub in getattr(command, "commands", {}).items():
            walk(sub, f"{name} {sub_name}".strip())

    walk(get_command(app), "")
    return texts


def test_no_file_outside_the_repository_is_named() -> None:
    texts = _texts()
    assert "docs/kpis.md" in texts["servicepulse kpi --help"]  # the walk reads every command
    assert len([name for name in texts if name.endswith("--help")]) > 40
    for where, text in texts.items():
        for name in OUTSIDE:
            assert name not in text, f"{where} names {name}"


def test_every_docs_page_named_exists() -> None:
    for where, text in _texts().items():
        for name in set(re.findall(r"docs/[a-z_-]+\.md", text)):
            assert (ROOT / name).is_file(), f"{where} names {name}"
