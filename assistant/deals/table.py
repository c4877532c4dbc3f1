"""The deal table for people: plain rows for display, and CSV."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

from assistant.deals.model import COLUMNS, Deal


def deals_table(deals: Sequence[Deal]) -> list[dict[str, str]]:
    """Plain rows for display: one string per column of :data:`COLUMNS`, ``terms`` (share, term and counterparty in
    words), ``source`` (the row's main passage as "[title, p. N]") and ``sources`` (every document it cites)."""
    rows = []
    for deal in deals:
        row = {name: deal.value(name) for name in COLUMNS}
        row["terms"] = "; ".join(filter(None, (
            f"{row['share']} of output" if row["share"] else "", row["term"],
            f"from {row['counterparty']}" if row["counterparty"] else "",
        )))
        row["source"] = deal.source.reference
        row["sources"] = "; ".join(dict.fromkeys(s.reference for f in deal.fields.values() for s in f.sources))
        rows.append(row)
    return rows


def deals_csv(deals: Sequence[Deal]) -> str:
    """CSV text: the columns of :data:`COLUMNS` and a ``sources`` column listing document titles and pages."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=[*COLUMNS, "sources"], extrasaction="ignore")
    writer.writeheader()
    writer.writerows(deals_table(deals))
    return out.getvalue()
