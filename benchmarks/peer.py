"""Our pipeline against a naive LangChain RAG pipeline on the same evaluation sets and embedding model.

Usage: python benchmarks/peer.py [--sets starter,minerals-dev,sec-10q-sample] [--k 10] [--json PATH]

Sets come from tests/eval/sets.py (the starter corpus, and the dev sets in ../shared/datasets when present); each
is printed whole and, where it has them, by its tune and check halves.

Peer: LangChain loaders (PyPDFLoader for PDFs, BSHTMLLoader for HTML, TextLoader for Markdown and text),
RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200), our SentenceEmbedder as the LangChain
Embeddings (so both sides use the same model object), langchain_chroma.Chroma in a temporary folder,
similarity_search(question, k=10); its answer is the top passage, it never refuses, and a follow-up
question reaches it as typed (it has no conversation handling).

Ours: ingest_paths into a temporary store, then Assistant.ask with the conversation history.

Both are scored by assistant.evaluation.evaluate. "facts" is the share of the reference answers' facts found in the
answer: for the JSON Lines sets, the figures of each reference answer (assistant.evalset.reference_figures); the
peer's answer is its whole top passage (about 1,000 characters), ours the sentences it states. Ingest times exclude
loading the model (loaded once, shared). Target: ours beats the peer on hit@1, hit@5 and MRR.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import warnings
from collections.abc import Sequence
from pathlib import Path

from _common import fmt, load_average, load_model, table

from assistant.assistant import Assistant
from assistant.evaluation import EvalReport, MetricRow, evaluate, summarize
from ingest.pipeline import ingest_paths
from policyqa.settings import Settings
from policyqa.store import open_store
from policyqa.types import Answer, Citation, DocType, Passage, StoredChunk, Turn
from tests.eval.sets import EvalSet, eval_sets

PEER_SUFFIXES = {".pdf", ".md", ".markdown", ".txt", ".html", ".htm"}
RETRIEVAL_METRICS = (("hit@1", "hit_at_1"), ("hit@5", "hit_at_5"), ("MRR", "mrr"))


# -- the peer ---------------------------------------------------------------------------------------


def peer_load(paths: Sequence[Path]) -> list:
    """Every supported file under ``paths`` (files or folders), loaded the way a LangChain tutorial would."""
    warnings.filterwarnings("ignore", message=".*langchain-community.*is being sunset", category=DeprecationWarning)
    from langchain_community.document_loaders import BSHTMLLoader, PyPDFLoader, TextLoader

    docs = []
    files = sorted(f for p in paths for f in ([p] if p.is_file() else p.rglob("*")))
    for path in files:
        suffix = path.suffix.lower()
        if not path.is_file() or suffix not in PEER_SUFFIXES:
            continue
        if suffix == ".pdf":
            loader = PyPDFLoader(str(path))
        elif suffix in (".html", ".htm"):
            # lxml is not a dependency here; the standard-library parser does the same job for these pages.
            loader = BSHTMLLoader(str(path), open_encoding="utf-8", bs_kwargs={"features": "html.parser"})
        else:
            loader = TextLoader(str(path), encoding="utf-8")
        docs.extend(loader.load())
    return docs


class Peer:
    """Naive RAG: split, embed, Chroma similarity search; the top passage is the answer."""

    def __init__(self, folder: Path, corpus: Sequence[Path], embedder, k: int = 10) -> None:
        import chromadb
        from chromadb.config import Settings as ChromaSettings
        from langchain_chroma import Chroma
        from langchain_text_splitters import RecursiveCharacterTextSplitter

        self.k = k
        started = time.perf_counter()
        documents = peer_load(corpus)
        splits = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200).split_documents(documents)
        client = chromadb.PersistentClient(path=str(folder), settings=ChromaSettings(anonymized_telemetry=False))
        self.store = Chroma(collection_name="peer", embedding_function=embedder, client=client)
        self.store.add_documents(splits)
        self.ingest_s = time.perf_counter() - started
        self.files = len({d.metadata.get("source") for d in documents})
        self.chunks = len(splits)

    def search(self, question: str) -> list[Passage]:
        docs = self.store.similarity_search(question, k=self.k)
        return [_passage(doc, rank) for rank, doc in enumerate(docs, start=1)]

    def ask(self, question: str, history: Sequence[Turn] = ()) -> Answer:
        del history  # the peer has no conversation handling: a follow-up is searched as typed
        started = time.perf_counter()
        passages = tuple(self.search(question))
        top = passages[0] if passages else None
        return Answer(
            text=top.chunk.text if top else "",
            citations=(Citation(1, top, 0, len(top.chunk.text)),) if top else (),
            answerable=True,
            query=question,
            backend="langchain-peer",
            passages=passages,
            timings={"total_s": time.perf_counter() - started},
        )


def _passage(doc, rank: int) -> Passage:
    source = str(doc.metadata.get("source", ""))
    page = doc.metadata.get("page")
    chunk = StoredChunk(
        chunk_id=f"peer:{rank}",
        doc_id=Path(source).stem,
        index=rank - 1,
        text=doc.page_content,
        page=page + 1 if isinstance(page, int) else None,  # PyPDFLoader pages are 0-based
        start=0,
        end=len(doc.page_content),
        headings=(),
        title=str(doc.metadata.get("title") or Path(source).name),
        doc_type=DocType.OTHER,
        published=None,
        source=source,
    )
    return Passage(chunk=chunk, score=1.0 / rank)


# -- comparison -------------------------------------------------------------------------------------


def beats(ours: MetricRow, peer: MetricRow) -> tuple[bool, list[str]]:
    """Ours holds against the peer when no retrieval metric is below the peer's (the target: never below)."""
    ok = True
    notes = []
    for label, attr in RETRIEVAL_METRICS:
        a, b = getattr(ours, attr) or 0.0, getattr(peer, attr) or 0.0
        if a > b + 1e-9:
            notes.append(f"{label} {a:.2f} > {b:.2f}")
        elif a >= b - 1e-9:
            notes.append(f"{label} {a:.2f} = {b:.2f}")
        else:
            ok = False
            notes.append(f"{label} {a:.2f} < {b:.2f} BELOW")
    return ok, notes


def summary_row(label: str, row: MetricRow, ingest_s: float, chunks: int) -> list[str]:
    return [
        label, f"{ingest_s:.1f}", str(chunks), str(row.questions), fmt(row.hit_at_1), fmt(row.hit_at_5), fmt(row.mrr),
        fmt(row.fact_recall), fmt(row.first_citation), fmt(row.any_citation), fmt(row.citation_precision),
        fmt(row.refusal_accuracy), str(row.false_refusals), fmt(row.p50_s * 1000 if row.p50_s is not None else None, 0),
    ]


HEAD = ("pipeline", "ingest s", "chunks", "n", "hit@1", "hit@5", "MRR", "facts", "cite-1st", "cite-any",
        "cite-prec", "refusal", "false-ref", "p50 ms")


def halves(report: EvalReport) -> list[tuple[str, MetricRow]]:
    """The whole set, then its tune and check halves when both hold questions."""
    rows = [("all", report.overall)]
    for split in ("tune", "check"):
        results = [r for r in report.results if r.split == split]
        if results and len(results) < len(report.results):
            rows.append((split, summarize(split, results)))
    return rows


def run_set(name: str, eval_set: EvalSet, model, k: int, tmp: Path) -> tuple[bool, dict[str, object]]:
    question_set = eval_set.load()
    settings = Settings(store_dir=tmp / f"ours-{name}", collection="benchmark")
    store = open_store(settings)
    report = ingest_paths(list(eval_set.documents), settings, store=store, embedder=model)
    print(f"{name}: ours {report.summary()}")
    peer = Peer(tmp / f"peer-{name}", list(eval_set.documents), model, k=k)
    print(f"{name}: peer {peer.files} files, {peer.chunks} chunks in {peer.ingest_s:.1f} s")
    assistant = Assistant(settings, store=store, embedder=model)
    assistant.ask("warm-up question about critical minerals")
    peer.ask("warm-up question about critical minerals")
    ours_report = evaluate(question_set, assistant.ask, retrieved=lambda a: a.passages)
    peer_report = evaluate(question_set, peer.ask, retrieved=lambda a: a.passages)
    store.close()
    rows = []
    verdicts = []
    for (label, ours_row), (_, peer_row) in zip(halves(ours_report), halves(peer_report), strict=True):
        rows.append(summary_row(f"ours {label}", ours_row, report.seconds, report.chunks))
        rows.append(summary_row(f"peer {label} (k={k})", peer_row, peer.ingest_s, peer.chunks))
        ok, notes = beats(ours_row, peer_row)
        verdicts.append(f"  {label}: ours {'>=' if ok else 'BELOW'} peer on hit@1/hit@5/MRR ({'; '.join(notes)})")
    print(f"\n{name}: {len(question_set.questions)} questions; {load_average()}")
    print(table(HEAD, rows))
    print("\n".join(verdicts))
    overall_ok, _ = beats(ours_report.overall, peer_report.overall)
    return overall_ok, {
        "ours": {"ingest_s": report.seconds, "chunks": report.chunks, **ours_report.as_dict()},
        "peer": {"ingest_s": peer.ingest_s, "chunks": peer.chunks, "k": k, **peer_report.as_dict()},
        "ours_beats_peer": overall_ok,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default="starter,minerals-dev,sec-10q-sample",
                        help="comma-separated evaluation sets (tests/eval/sets.py)")
    parser.add_argument("--k", type=int, default=10, help="passages the peer retrieves")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args()

    print(f"before: {load_average()}")
    model, load_s = load_model(Settings())
    print(f"model {model.name}: loaded in {load_s:.1f} s (shared by both pipelines, not in ingest times)")
    sets = eval_sets()
    results: dict[str, object] = {}
    all_ok = True
    with tempfile.TemporaryDirectory(prefix="policyqa-peer-") as tmp:
        for name in args.sets.split(","):
            if not sets[name].available:
                print(f"{name}: not found (see tests/eval/sets.py), skipped")
                continue
            ok, results[name] = run_set(name, sets[name], model, args.k, Path(tmp))
            all_ok = all_ok and ok
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"load_average": load_average(), **results}, indent=2))
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
