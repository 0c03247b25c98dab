"""The subsidy estimate: the rules files of every fiscal year (``fujo/subsidy/rules/<year>.toml``)
read once, and the pure estimate of :mod:`fujo.core.subsidy` over them.

A new fiscal year is a new file (named after the year, e.g. ``2024.toml``): no code. A file that
cannot be used stops the estimate with its name and key (:class:`RulesError`), never a guess."""

from __future__ import annotations

import functools
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..core.subsidy import RulesError, RuleSet, estimate, read_request, rules_from_mapping

RULES_DIR = Path(__file__).parent / "rules"


@functools.cache
def rule_sets(directory: Path = RULES_DIR) -> tuple[RuleSet, ...]:
    """Every fiscal year's rules in ``directory``, oldest first."""
    out: dict[int, RuleSet] = {}
    for path in sorted(directory.glob("*.toml")):
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
            raise RulesError(f"{path.name}: {e}") from None
        rules = rules_from_mapping(data, path.name)
        if path.stem != str(rules.fiscal_year):
            raise RulesError(f"{path.name}: fiscal_year {rules.fiscal_year} does not match the file name")
        out[rules.fiscal_year] = rules
    if not out:
        raise RulesError(f"{directory}: no subsidy rules (*.toml)")
    return tuple(out[y] for y in sorted(out))


def estimate_subsidy(
    values: Mapping[str, object], *, names: Mapping[str, str] | None = None, directory: Path = RULES_DIR
) -> dict[str, Any]:
    """The estimate for raw values (kind, cost, other_costs, completed, applied, fiscal_year): see
    :func:`fujo.core.subsidy.read_request`. Raises ValidationFailed naming every wrong field."""
    sets = rule_sets(directory)
    return estimate(read_request(values, sets, names)).as_dict()


def rules_summary(directory: Path = RULES_DIR) -> list[dict[str, Any]]:
    """Each fiscal year's deadlines and kinds, for the screen and ``fujo subsidy rules``."""
    return [
        {
            "fiscal_year": r.fiscal_year,
            "fiscal_year_ja": r.fiscal_year_ja,
            "title": r.title,
            "completion_deadline": r.completion_deadline.isoformat(),
            "application_from": r.application_from.isoformat(),
            "application_to": r.application_to.isoformat(),
            "kinds": [
                {
                    "kind": k.key,
                    "label": k.label_ja,
                    "rate": f"{k.rate.numerator}/{k.rate.denominator}",
                    "cost_ceiling": k.cost_ceiling,
                    "max_amount": k.max_amount,
                    "published_max": k.published_max,
                    "published_max_rounded": k.rounded,
                }
                for k in r.kinds.values()
            ],
        }
        for r in rule_sets(directory)
    ]
