"""A four-document corpus of fictional policy facts (Markdown, HTML, PDF), for the assistant and CLI tests."""

from __future__ import annotations

from pathlib import Path

from tests.builders import write_html, write_markdown, write_pdf, write_sidecar

ORDER_ID = "eo-15001"
LOAN_ID = "northwind-loan"
STAKE_ID = "bluestone-8k"
GRANT_ID = "harbor-grant"

FILES = {
    ORDER_ID: "eo-15001-gallium-supply.md",
    LOAN_ID: "northwind-gallium-loan.html",
    STAKE_ID: "bluestone-copper-8k.pdf",
    GRANT_ID: "duluth-harbor-grant.md",
}


def write_policy_corpus(folder: Path) -> Path:
    """Write the corpus into ``folder`` and return it.

    Dates: the order 2025-03-03 (policy), the loan 2025-06-16 (article), the stake 2025-08-20 (filing),
    the grant 2025-10-07 (article).
    """
    folder.mkdir(parents=True, exist_ok=True)
    write_markdown(
        folder / FILES[ORDER_ID],
        "# Executive Order 15001: Securing the Gallium Supply Chain\n\n"
        "## Purpose\n\n"
        "The order directs the Department of Commerce to review gallium imports under Section 232 within 180 days. "
        "It names gallium and germanium as minerals essential to radar and semiconductor manufacturing.\n\n"
        "## Signing\n\n"
        "The President signed Executive Order 15001 on March 3, 2025. "
        "The order took effect immediately after publication in the Federal Register.\n",
        front_matter={"title": "Executive Order 15001", "doc_type": "policy", "published": "2025-03-03",
                      "doc_id": ORDER_ID},
    )
    loan = write_html(
        folder / FILES[LOAN_ID],
        "Northwind Minerals wins federal loan for Montana gallium refinery",
        {
            "The loan": [
                "Northwind Minerals will receive $250 million in federal money from a Department of Energy loan "
                "to build a gallium refinery in Butte, Montana.",
                "The Department of Energy announced the loan on June 16, 2025, at a ceremony at the refinery site.",
            ],
            "The refinery": [
                "The Butte refinery is expected to produce 50 metric tons of gallium a year once it opens in 2027.",
                "Northwind Minerals will hire about 300 workers to run the plant.",
            ],
        },
    )
    write_sidecar(loan, {"doc_type": "article", "published": "2025-06-16", "doc_id": LOAN_ID})
    stake = write_pdf(
        folder / FILES[STAKE_ID],
        [
            "Bluestone Copper Corporation - Current Report on Form 8-K\n\n"
            "Item 1.01 Entry into a Material Definitive Agreement.\n\n"
            "Bluestone Copper Corporation will receive $60 million in federal money from the Department of Defense "
            "in exchange for a 12 percent stake. The agreement was announced on August 18, 2025. "
            "The proceeds will fund the expansion of the Red Mesa copper mine in Arizona.",
            "Item 7.01 Regulation FD Disclosure.\n\n"
            "Bluestone Copper Corporation expects the Red Mesa expansion to double its copper output by 2028.",
        ],
        title="Bluestone Copper 8-K",
    )
    write_sidecar(stake, {"doc_type": "filing", "published": "2025-08-20", "doc_id": STAKE_ID})
    write_markdown(
        folder / FILES[GRANT_ID],
        "# Duluth harbor grant\n\n"
        "The Department of Transportation awarded the Port of Duluth a $45 million grant to rebuild its ore docks. "
        "The grant was announced on October 7, 2025. "
        "Nickel concentrate from the Tamarack mine will be shipped through the rebuilt docks.\n",
        front_matter={"title": "Duluth harbor grant", "doc_type": "article", "published": "2025-10-07",
                      "doc_id": GRANT_ID},
    )
    return folder
