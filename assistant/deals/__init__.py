"""Deal tracker: the government–industry deals stated in the corpus, one row per company and instrument, all cited.

Modules: ``model`` (the values), ``recognisers`` (what a sentence names; company names learned from the documents),
``reader`` (the ``DealReader`` protocol), ``rules`` (the offline reader), ``llm`` (the language-model reader, every
value checked against its quote), ``merge`` (rows across documents), ``extract`` (a store's table), ``table``
(display, CSV), ``scoring`` (against a hand-checked table) and ``answer`` (list and comparison questions in the chat).
"""

from __future__ import annotations

from assistant.deals.answer import DealAnswerer, answer_from_deals, is_deal_question
from assistant.deals.extract import (
    DealRun,
    complete_chunks,
    corpus_key,
    deals_from_chunks,
    extract_deals,
    run_deals,
)
from assistant.deals.llm import (
    DEALS_SYSTEM,
    LLMDealReader,
    canonical_instrument,
    check_deals,
    find_quote,
    parse_reply,
)
from assistant.deals.merge import merge_facts
from assistant.deals.model import COLUMNS, INSTRUMENTS, Deal, Fact, Field, Provenance, Reading
from assistant.deals.reader import DealReader
from assistant.deals.recognisers import NameBook, iso_date
from assistant.deals.rules import RuleReader, read_chunks
from assistant.deals.scoring import Score, field_matches, load_expected, score
from assistant.deals.table import deals_csv, deals_table

__all__ = [
    "COLUMNS", "DEALS_SYSTEM", "INSTRUMENTS", "Deal", "DealAnswerer", "DealReader", "DealRun", "Fact", "Field",
    "LLMDealReader",
    "NameBook", "Provenance", "Reading", "RuleReader", "Score", "answer_from_deals", "canonical_instrument",
    "check_deals", "complete_chunks", "corpus_key", "deals_csv", "deals_from_chunks", "deals_table", "extract_deals",
    "field_matches", "find_quote", "is_deal_question", "iso_date", "load_expected", "merge_facts", "parse_reply",
    "read_chunks", "run_deals", "score",
]
