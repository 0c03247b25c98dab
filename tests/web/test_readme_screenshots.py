"""The README's screenshots and the browser tests that take them (issue 9)."""

from __future__ import annotations


def test_the_readme_shows_exactly_the_screenshots_these_tests_take():
    """The pictures in docs/screenshots are the README's, each taken by a ``_shot`` of the layout tests
    (so that FUJO_UPDATE_SCREENSHOTS=1 refreshes every one of them and adds none)."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    shown = set(re.findall(r"docs/screenshots/([\w-]+\.png)", (root / "README.md").read_text()))
    stored = {p.name for p in (root / "docs" / "screenshots").iterdir()}
    taken = set(
        re.findall(
            r'_shot\(\w+, "([\w-]+\.png)"\)', (Path(__file__).parent / "test_desk_layout_browser.py").read_text()
        )
    )
    assert shown == stored == taken and len(shown) == 4, (shown, stored, taken)
