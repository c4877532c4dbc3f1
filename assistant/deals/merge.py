"""Facts from either reader merged into rows: one per company and instrument; per field the best-ranked value (the
latest-published document's, a date stated in a sentence before a publication date), the other passages kept as
further sources."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence

from assistant.deals.model import COLUMNS, INSTRUMENTS, VALUE_FIELDS, Deal, Fact, Field, Provenance
from assistant.deals.recognisers import agencies_in


def merge_facts(facts: Sequence[Fact], profile: Sequence[Fact] = ()) -> list[Deal]:
    """Facts (from either reader) merged into rows: one per company and instrument, per field the best-ranked value;
    ``profile`` gives a row its minerals when no fact does."""
    groups: dict[tuple[str, str], list[Fact]] = defaultdict(list)
    for f in facts:
        groups[(f.company, f.instrument)].append(f)
    minerals: dict[str, list[Fact]] = defaultdict(list)
    for f in profile:
        minerals[f.company].append(f)

    def has_value(key: tuple[str, str]) -> bool:
        return any(f.field in VALUE_FIELDS for f in groups.get(key, ()))

    def has_party(key: tuple[str, str]) -> bool:
        """A deal is made with the government or a named lender: a company's own cash flows, buybacks and tax
        figures (a filing's tables) are not deals."""
        found = groups.get(key, ())
        return any(f.field in ("agency", "counterparty") for f in found) or any(
            agencies_in(f.source.quote, 0, len(f.source.quote)) for f in found if f.field in VALUE_FIELDS
        )

    for company, instrument in list(groups):
        if instrument == "investment" and has_value((company, "equity stake")):
            # Money invested for a stake is the stake ("an investment of $35.6 million for a 10 percent stake").
            groups[(company, "equity stake")].extend(
                Fact(f.company, "equity stake", f.field, f.value, f.key, f.rank, f.source)
                for f in groups.pop((company, instrument))
            )
    deals = [_deal(company, instrument, found, minerals) for (company, instrument), found in groups.items()
             if has_value((company, instrument)) and has_party((company, instrument))]
    order = {name: i for i, name in enumerate(INSTRUMENTS)}
    return sorted(deals, key=lambda d: (d.company.lower(), d.value("date"), order.get(d.instrument, len(order))))


def _deal(company: str, instrument: str, facts: list[Fact], minerals: dict[str, list[Fact]]) -> Deal:
    by_field: dict[str, list[Fact]] = defaultdict(list)
    for f in facts:
        by_field[f.field].append(f)
    if "mineral" not in by_field:
        own_docs = {f.source.doc_id for f in facts}
        owners = [company, *(c for c in minerals if c != company and company.startswith(c))]
        for owner in owners:  # a joint venture ('A–B joint venture'): its first partner's
            # Cite the deal's own documents first, and sentences that name the company before those that imply it.
            found = sorted(minerals.get(owner, []), key=lambda f: (f.source.doc_id not in own_docs, -f.rank[1]))
            if found:
                by_field["mineral"] = _profile_minerals(found)
                break
    fields: dict[str, Field] = {}
    for name, found in by_field.items():
        if found:
            fields[name] = _field(found)
    valued = sorted((f for f in facts if f.field in VALUE_FIELDS), key=lambda f: f.rank, reverse=True)
    sources = _unique(f.source for f in valued)
    fields["company"] = Field(company, sources)
    fields["instrument"] = Field(instrument, sources)
    return Deal(company, instrument, {k: fields[k] for k in COLUMNS if k in fields})


def _field(found: list[Fact]) -> Field:
    ordered = sorted(found, key=lambda f: (f.rank, f.source.chunk_id), reverse=True)
    best = ordered[0]
    agreeing = [f for f in ordered if f.key == best.key]
    others = [f for f in ordered if f.key != best.key]
    return Field(best.value, _unique(f.source for f in [*agreeing, *others]))


def _profile_minerals(found: list[Fact]) -> list[Fact]:
    """The minerals most often named beside a company, as one fact: a row's mineral when no deal sentence names one."""
    counts: dict[str, int] = defaultdict(int)
    for f in found:
        counts[f.value] += 1
    if not counts:
        return []
    top = max(counts.values())
    names = [n for n in dict.fromkeys(f.value for f in found) if counts[n] * 2 >= top]
    names.sort(key=lambda n: -counts[n])
    value = ", ".join(names)
    sources = _unique(f.source for f in found if f.value in names)[:5]
    return [Fact(found[0].company, "", "mineral", value, value, (0,), s) for s in sources]


def _unique(sources: Iterable[Provenance]) -> tuple[Provenance, ...]:
    seen: set[tuple[str, int, int]] = set()
    out = []
    for s in sources:
        if (s.chunk_id, s.start, s.end) not in seen:
            seen.add((s.chunk_id, s.start, s.end))
            out.append(s)
    return tuple(out)
