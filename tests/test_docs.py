"""The manager's guides keep up with the code: every operator, every setting, their links.

A manager reads docs/manager-guide.md (or its French twin) instead of the code; an operator
or a setting added without a line there would be a feature nobody finds.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest

from sheetcrm.engine import operators
from sheetcrm.engine.operators import OPERATORS
from sheetcrm.engine.settings import SETTINGS
from sheetcrm.files.templates import TEMPLATES_DIR

ROOT = Path(__file__).resolve().parent.parent
GUIDE_EN = ROOT / "docs" / "manager-guide.md"
GUIDE_FR = ROOT / "docs" / "manager-guide.fr.md"
GUIDES = (GUIDE_EN, GUIDE_FR)


def _quoted(path: Path) -> set[str]:
    """Every `code span` of a Markdown file: where the guides name the words people type."""
    text = path.read_text(encoding="utf-8")
    return {m.replace("\\|", "|") for m in re.findall(r"`([^`\n]+)`", text)}


def _template_keys(template: str) -> list[str]:
    with (TEMPLATES_DIR / template / "Settings.csv").open(encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    return [row[0] for row in rows[1:] if row and row[0].strip()]


@pytest.mark.parametrize("guide", GUIDES, ids=lambda p: p.name)
def test_every_operator_is_in_the_guide(guide: Path) -> None:
    quoted = _quoted(guide)
    missing = [op.name for op in OPERATORS if op.name not in quoted]
    assert not missing, f"{guide.name} does not name the operators {missing} (as `name`)"


def test_every_french_operator_word_is_in_the_french_guide() -> None:
    french = getattr(operators, "FRENCH", None)
    if french is None:
        pytest.skip("the operator registry has no French words yet")
    quoted = _quoted(GUIDE_FR)
    missing = [words[0] for words in french.values() if words[0] not in quoted]
    assert not missing, f"{GUIDE_FR.name} does not name the French operators {missing}"


def test_every_setting_of_the_template_is_in_the_english_guide() -> None:
    keys = _template_keys("b2b-en")
    assert "Fallback owner" in keys  # the template is read, not an empty list
    quoted = _quoted(GUIDE_EN)
    missing = [k for k in keys if k not in quoted]
    assert not missing, f"{GUIDE_EN.name} does not explain the Settings rows {missing}"


@pytest.mark.parametrize("guide", GUIDES, ids=lambda p: p.name)
def test_every_declared_setting_is_in_the_guide(guide: Path) -> None:
    """Settings a template leaves out (their default applies) are still a manager's to set."""
    quoted = _quoted(guide)
    missing = [s.key for s in SETTINGS if s.key not in quoted]
    assert not missing, f"{guide.name} does not explain the settings {missing}"


@pytest.mark.parametrize("page", ["README.md", "docs/rules.md"])
def test_the_guides_are_linked(page: str) -> None:
    text = (ROOT / page).read_text(encoding="utf-8")
    for guide in GUIDES:
        target = guide.relative_to(ROOT / Path(page).parent).as_posix()
        assert f"]({target})" in text, f"{page} does not link {target}"


@pytest.mark.parametrize("guide", GUIDES, ids=lambda p: p.name)
def test_the_guides_links_lead_somewhere(guide: Path) -> None:
    text = guide.read_text(encoding="utf-8")
    anchors = {_anchor(h) for h in re.findall(r"^#+ (.+)$", text, re.MULTILINE)}
    broken = []
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if target.startswith("http"):
            continue
        path, _, anchor = target.partition("#")
        found = (guide.parent / path).exists() if path else anchor in anchors
        if not found:
            broken.append(target)
    assert not broken, f"{guide.name} links to nothing: {broken}"


def _anchor(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces as dashes."""
    words = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return words.replace(" ", "-")
