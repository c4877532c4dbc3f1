"""The Assistant end to end over a real store: a small Markdown/HTML/PDF corpus ingested with the fake embedder."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from assistant.refusal import RefusalModel

from assistant import Assistant, Conversation
from assistant.assistant import MAX_QUESTION_CHARS
from assistant.ranking import fuse_rankings
from assistant.retrieval import Retriever
from ingest.pipeline import ingest_paths
from policyqa.errors import StoreUnavailable
from policyqa.settings import Settings
from policyqa.store import CorpusStore, open_store
from policyqa.types import Answer, DocType, Filters, Outcome
from tests.answer_checks import assert_every_sentence_is_quoted_from_its_citation
from tests.builders import write_markdown
from tests.fakes import FakeEmbedder
from tests.integration import policy_corpus
from tests.integration.policy_corpus import GRANT_ID, LOAN_ID, ORDER_ID, STAKE_ID, write_policy_corpus

# Chunks hold whole paragraphs only if the fake model admits more than its default 64 tokens.
MAX_TOKENS = 256


@pytest.fixture(scope="module")
def corpus_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Settings, CorpusStore, FakeEmbedder]]:
    root = tmp_path_factory.mktemp("assistant-corpus")
    settings = Settings(store_dir=root / "store", collection="assistant-test")
    store = open_store(settings)
    embedder = FakeEmbedder(max_tokens=MAX_TOKENS)
    report = ingest_paths([write_policy_corpus(root / "docs")], settings, store=store, embedder=embedder)
    assert report.ok and report.count(Outcome.ADDED) == 4, report.summary()
    yield settings, store, embedder
    store.close()


@pytest.fixture(scope="module")
def assistant(corpus_store: tuple[Settings, CorpusStore, FakeEmbedder]) -> Assistant:
    settings, store, embedder = corpus_store
    return Assistant(settings, store=store, embedder=embedder)


def cited_docs(answer: Answer) -> set[str]:
    return {c.chunk.doc_id for c in answer.citations}


def citing(answer: Answer, fact: str) -> set[str]:
    """The documents of the citations whose quoted sentence states ``fact``."""
    return {c.chunk.doc_id for c in answer.citations if fact in " ".join(c.quote.split())}


@pytest.mark.parametrize(
    ("question", "fact", "doc_id"),
    [
        ("When did the President sign Executive Order 15001?", "March 3, 2025", ORDER_ID),
        ("How many workers will Northwind Minerals hire to run the refinery?", "300 workers", LOAN_ID),
        ("What percent stake will the Department of Defense get in Bluestone Copper?", "12 percent", STAKE_ID),
        ("How much is the Port of Duluth grant to rebuild its ore docks?", "$45 million", GRANT_ID),
    ],
    ids=["markdown", "html", "pdf", "markdown-2"],
)
def test_a_factual_question_is_answered_citing_the_document_that_states_it(
    assistant: Assistant, question: str, fact: str, doc_id: str
) -> None:
    answer = assistant.ask(question)

    assert answer.answerable, f"refused {question!r}: {answer.text}"
    assert fact in answer.text, f"the answer should state {fact!r}: {answer.text!r}"
    assert citing(answer, fact) == {doc_id}, f"{fact!r} should be cited from {doc_id}: {cited_docs(answer)}"
    assert answer.query == question and answer.passages, "a first question is searched as asked"
    assert_every_sentence_is_quoted_from_its_citation(answer)


@pytest.mark.parametrize(
    ("filters", "allowed"),
    [
        (Filters(doc_types=(DocType.FILING,)), {STAKE_ID}),
        (Filters(date_from="2025-06-01", date_to="2025-07-31"), {LOAN_ID}),
        (Filters(doc_ids=(LOAN_ID, GRANT_ID)), {LOAN_ID, GRANT_ID}),
    ],
    ids=["doc type", "date range", "doc ids"],
)
def test_filters_restrict_passages_and_citations(
    assistant: Assistant, filters: Filters, allowed: set[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    question = "How much federal money will the company receive from the Department?"
    # This vague question is about filters, not refusals: it is answered whatever the passages' similarity.
    monkeypatch.setattr(assistant.answerer, "refusal", RefusalModel(weights={}, bias=0.0, threshold=-1.0, means={}))
    unfiltered = assistant.ask(question)
    assert {p.chunk.doc_id for p in unfiltered.passages} - allowed, "without the filter other documents are found"

    answer = assistant.ask(question, filters=filters)

    assert answer.passages, "the filter leaves matching documents"
    assert {p.chunk.doc_id for p in answer.passages} <= allowed, f"passages outside {allowed}"
    assert answer.answerable and cited_docs(answer) <= allowed, f"citations {cited_docs(answer)} outside {allowed}"


def test_a_filter_that_matches_nothing_gives_a_refusal_with_a_reason(assistant: Assistant) -> None:
    answer = assistant.ask("How much federal money will the company receive?", filters=Filters(date_from="2030-01-01"))

    assert not answer.answerable and answer.citations == () and answer.passages == (), answer
    signals = getattr(assistant.answerer, "last_signals", None)
    assert signals is not None and signals.reason, f"the refusal should say why: {signals}"


def test_when_was_that_announced_carries_the_subject_and_is_answered_from_its_document(assistant: Assistant) -> None:
    chat = Conversation(assistant)
    first = chat.ask("How much federal money did Northwind Minerals receive?")
    assert citing(first, "$250 million") == {LOAN_ID}, f"first answer: {first.text!r}"

    follow = chat.ask("When was that announced?")

    assert follow.query != "When was that announced?", "the follow-up should be rewritten"
    assert "Northwind Minerals" in follow.query, f"the subject should be carried: {follow.query!r}"
    assert "June 16, 2025" in follow.text, f"the loan's date should be stated: {follow.text!r}"
    assert citing(follow, "June 16, 2025") == {LOAN_ID}, f"cited: {cited_docs(follow)}"


def test_what_about_switches_the_subject_and_the_next_follow_up_stays_with_the_new_one(assistant: Assistant) -> None:
    chat = Conversation(assistant)
    chat.ask("How much federal money did Northwind Minerals receive?")

    switched = chat.ask("What about Bluestone Copper?")

    assert "Bluestone Copper" in switched.query and "Northwind" not in switched.query, switched.query
    assert citing(switched, "$60 million") == {STAKE_ID}, f"answer: {switched.text!r}"
    assert "$250 million" not in switched.text, f"the old subject's figure is not an answer: {switched.text!r}"

    dated = chat.ask("When was that announced?")

    assert "Bluestone Copper" in dated.query, f"the new subject should be carried: {dated.query!r}"
    assert citing(dated, "August 18, 2025") == {STAKE_ID}, f"answer: {dated.text!r}"
    assert "June 16, 2025" not in dated.text, f"that is the other company's date: {dated.text!r}"
    assert [t.question for t in chat.turns] == [
        "How much federal money did Northwind Minerals receive?", "What about Bluestone Copper?",
        "When was that announced?",
    ], "the conversation keeps its turns"


def test_stream_yields_text_pieces_then_one_answer_whose_text_they_add_up_to(assistant: Assistant) -> None:
    events = list(assistant.stream("How many workers will Northwind Minerals hire to run the refinery?"))

    answers = [e for e in events if isinstance(e, Answer)]
    pieces = events[:-1]
    assert len(answers) == 1 and events[-1] is answers[0], "exactly one Answer, and it comes last"
    assert pieces and all(isinstance(p, str) for p in pieces), f"text pieces come first: {pieces!r}"
    assert "".join(pieces).split() == answers[0].text.split(), "the pieces are the answer text"
    assert answers[0].citations and set(answers[0].timings) >= {"retrieve_s", "answer_s", "total_s"}, answers[0]


@pytest.mark.parametrize("question", ["", "   \n\t ", "\x00\x07\x1b"], ids=["empty", "blank", "control only"])
def test_an_empty_question_gets_a_polite_non_answer(assistant: Assistant, question: str) -> None:
    answer = assistant.ask(question)

    assert not answer.answerable and answer.citations == (), answer
    assert answer.text == "Please type a question.", f"a prompt to type a question: {answer.text!r}"


def test_a_100_kb_question_is_cut_with_a_notice_and_still_handled(assistant: Assistant) -> None:
    question = "How many workers will Northwind Minerals hire to run the refinery? " + "filler words " * 8000
    assert len(question) > 100_000

    answer = assistant.ask(question)

    assert answer.notice and "cut" in answer.notice, f"the user should learn the question was cut: {answer.notice!r}"
    assert len(answer.query) <= MAX_QUESTION_CHARS, f"the query is bounded: {len(answer.query)} characters"
    assert answer.answerable or answer.related, "either an answer or related reading"


def test_control_characters_are_stripped_before_answering(assistant: Assistant) -> None:
    answer = assistant.ask("How many\x00 workers will\x1b Northwind Minerals\x07 hire to run the refinery?\x7f")

    assert not re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", answer.query), f"control characters: {answer.query!r}"
    assert answer.answerable and "300 workers" in answer.text, f"answered despite the noise: {answer.text!r}"
    assert answer.notice is None, f"nothing was cut: {answer.notice!r}"


# -- diversification -------------------------------------------------------------------------------


def test_with_a_document_penalty_one_document_cannot_fill_every_slot(tmp_path: Path) -> None:
    """The penalty is off by default (it cost minerals-dev tune hit@5: a document's further passages often hold the
    answer); a user who wants more documents per answer sets POLICYQA_DOC_PENALTY."""
    folder = tmp_path / "docs"
    folder.mkdir()
    reasons = [
        "while customs officers train at Houston", "after smelters in Utah asked for relief",
        "because Chilean shipments surged last winter", "unless Canada signs a supply pact",
        "as wire makers warned of shortages", "when the Commerce review ends",
        "despite objections from automakers", "so scrap recyclers gain time",
        "once port inspections resume", "because rod mills expanded capacity",
        "after Peru raised export duties", "while Congress debates exemptions",
    ]
    steps = "\n\n".join(
        f"## Step {i}\n\nIn step {i} the copper tariff on refined copper cathode imports rises to {10 + i} "
        f"percent, {reason}."
        for i, reason in enumerate(reasons)
    )
    write_markdown(folder / "copper-tariff-schedule.md", f"# Copper tariff schedule\n\n{steps}\n",
                   front_matter={"doc_id": "tariff-schedule"})
    write_markdown(folder / "smelter-news.md",
                   "# Smelter news\n\nThe copper tariff on refined copper cathode imports helps the Utah smelter.\n",
                   front_matter={"doc_id": "smelter-news"})
    settings = Settings(store_dir=tmp_path / "store", collection="diversify-test", retrieval_k=4, doc_penalty=0.15)
    store = open_store(settings)
    embedder = FakeEmbedder(max_tokens=MAX_TOKENS)
    ingest_paths([folder], settings, store=store, embedder=embedder)
    query = "copper tariff on refined copper cathode imports step"
    vector = embedder.encode([query])[0]
    fused = fuse_rankings(
        [[cid for cid, _ in store.dense_search(vector, 30)], [cid for cid, _ in store.lexical_search(query, 30)]]
    )
    top_by_score = [cid.split(":")[0] for cid in list(fused)[: settings.retrieval_k]]
    assert set(top_by_score) == {"tariff-schedule"}, f"by fused score alone one document fills the top: {top_by_score}"

    passages = Retriever(store, embedder, settings).search(query)

    docs = [p.chunk.doc_id for p in passages]
    assert len(passages) == settings.retrieval_k, f"k passages: {docs}"
    assert "smelter-news" in docs, f"the other relevant document should get a slot: {docs}"
    assert docs[0] == top_by_score[0], "the best passage still comes first"
    store.close()


# -- reranker hook ---------------------------------------------------------------------------------


class ReversingReranker:
    """Scores candidates in reverse of the order it receives them; records what it was asked."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, list[str]]] = []

    def score(self, query: str, texts: Sequence[str]) -> list[float]:
        self.calls.append((query, list(texts)))
        return [float(i) for i in range(len(texts))]


def test_the_retriever_puts_passages_in_the_rerankers_order(
    corpus_store: tuple[Settings, CorpusStore, FakeEmbedder],
) -> None:
    settings, store, embedder = corpus_store
    query = "How many workers will Northwind Minerals hire to run the refinery?"
    plain = Retriever(store, embedder, settings).search(query)
    reranker = ReversingReranker()

    reranked = Retriever(store, embedder, settings, reranker=reranker).search(query)

    assert len(reranker.calls) == 1 and reranker.calls[0][0] == query, f"one call with the query: {reranker.calls}"
    candidates = reranker.calls[0][1]
    assert reranked[0].chunk.text == candidates[-1], "the reranker's favourite (the last candidate) comes first"
    assert reranked[0].chunk.chunk_id != plain[0].chunk.chunk_id, "reranking changed the top passage"
    assert reranked[0].score == max(p.score for p in reranked), "the first passage has the best reranker score"


def test_the_assistant_passes_its_reranker_to_retrieval(
    corpus_store: tuple[Settings, CorpusStore, FakeEmbedder],
) -> None:
    settings, store, embedder = corpus_store
    reranker = ReversingReranker()
    assistant = Assistant(settings, store=store, embedder=embedder, reranker=reranker)

    answer = assistant.ask("How many workers will Northwind Minerals hire to run the refinery?")

    assert reranker.calls, "the reranker should be consulted"
    assert answer.passages[0].chunk.text == reranker.calls[-1][1][-1], "the answer's passages follow its order"


def _write_tiny_cross_encoder(path: Path) -> Path:
    """A randomly initialised one-layer BERT cross-encoder with a word-level vocabulary, saved for offline use."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizer

    path.mkdir(parents=True)
    corpus_source = Path(policy_corpus.__file__).read_text(encoding="utf-8")  # the words the passages use
    words = sorted({w.lower() for w in re.findall(r"[A-Za-z]+", corpus_source)})
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *words, *"0123456789$.,?%-"]
    (path / "vocab.txt").write_text("\n".join(dict.fromkeys(vocab)) + "\n", encoding="utf-8")
    tokenizer = BertTokenizer(str(path / "vocab.txt"), do_lower_case=True)
    torch.manual_seed(7)
    config = BertConfig(
        vocab_size=len(tokenizer.vocab), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
        intermediate_size=37, num_labels=1, max_position_embeddings=512,
    )
    model = BertForSequenceClassification(config)
    with torch.no_grad():
        model.classifier.weight.mul_(40.0)  # spread the scores so their order is not decided by rounding
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


class RecordingReranker:
    """Wraps a reranker and records the scores it gave."""

    def __init__(self, inner: object) -> None:
        self.inner = inner
        self.seen: list[tuple[list[str], list[float]]] = []

    def score(self, query: str, texts: Sequence[str]) -> list[float]:
        scores = self.inner.score(query, texts)  # type: ignore[attr-defined]
        self.seen.append((list(texts), scores))
        return scores


@pytest.mark.model
def test_a_real_cross_encoder_named_in_settings_orders_the_passages(
    corpus_store: tuple[Settings, CorpusStore, FakeEmbedder], tmp_path: Path
) -> None:
    from assistant.rerank import CrossEncoderReranker

    settings, store, embedder = corpus_store
    model_dir = _write_tiny_cross_encoder(tmp_path / "tiny-cross-encoder")
    assistant = Assistant(settings.with_overrides(reranker_model=str(model_dir)), store=store, embedder=embedder)
    assert isinstance(assistant.retriever.reranker, CrossEncoderReranker), "the setting should build the reranker"
    recorder = RecordingReranker(assistant.retriever.reranker)
    assistant.retriever.reranker = recorder

    answer = assistant.ask("How many workers will Northwind Minerals hire to run the refinery?")

    texts, scores = recorder.seen[-1]
    assert len(set(scores)) > 1, f"a cross-encoder gives different scores to different passages: {scores}"
    best = texts[max(range(len(scores)), key=scores.__getitem__)]
    assert answer.passages[0].chunk.text == best, "the passage the cross-encoder scores highest comes first"


def test_warm_up_runs_one_offline_question_through_the_model_and_the_store(
    corpus_store: tuple[Settings, CorpusStore, FakeEmbedder],
) -> None:
    settings, store, _ = corpus_store
    embedder = FakeEmbedder(max_tokens=MAX_TOKENS)
    Assistant(settings, store=store, embedder=embedder).warm_up()
    assert embedder.encoded, "warm-up should have encoded the question (and candidate sentences)"


def test_warm_up_on_an_unreachable_store_leaves_the_error_to_the_first_real_question(tmp_path: Path) -> None:
    class DeadStore:
        """Every attribute, at any depth, is a call to a server that is not there."""

        def __getattr__(self, name: str) -> DeadStore:
            return self

        def __call__(self, *args: object, **kwargs: object) -> object:
            raise StoreUnavailable("Chroma server at 127.0.0.1:1 is not reachable")

    assistant = Assistant(Settings(store_dir=tmp_path / "s"), store=DeadStore(), embedder=FakeEmbedder())  # type: ignore[arg-type]
    assistant.warm_up()  # no exception
    with pytest.raises(StoreUnavailable, match="not reachable"):
        assistant.ask("How big is the stake?")
