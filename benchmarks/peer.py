"""Our pipeline against a naive LangChain RAG pipeline on the same corpus, question set and embedding model.

Usage: python benchmarks/peer.py [--corpus corpus] [--questions tests/eval/questions.yaml] [--k 5] [--json PATH]

Peer: LangChain loaders (PyPDFLoader for PDFs, BSHTMLLoader for HTML, TextLoader for Markdown and text),
RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200), our SentenceEmbedder as the LangChain
Embeddings (so both sides use the same model object), langchain_chroma.Chroma in a temporary folder,
similarity_search(question, k=5); its answer is the top passage, it never refuses, and a follow-up
question reaches it as typed (it has no conversation handling).

Ours: ingest_paths into a temporary store, then Assistant.ask with the conversation history.

Both are scored by assistant.evaluation.evaluate. Ingest times exclude loading the model (loaded once,
shared). Target: ours beats the peer on hit@1, hit@5 and MRR.
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

from _common import ROOT, fmt, load_average, load_model, table

from assistant.assistant import Assistant
from assistant.evalset import load_question_set
from assistant.evaluation import EvalReport, MetricRow, evaluate
from ingest.pipeline import ingest_paths
from policyqa.settings import Settings
from policyqa.store import open_store
from policyqa.types import Answer, Citation, DocType, Passage, StoredChunk, Turn

PEER_SUFFIXES = {".pdf", ".md", ".markdown", ".txt", ".html", ".htm"}
RETRIEVAL_METRICS = (("hit@1", "hit_at_1"), ("hit@5", "hit_at_5"), ("MRR", "mrr"))


# -- the peer ---------------------------------------------------------------------------------------


def peer_load(folder: Path) -> list:
    """Every supported file under ``folder``, loaded the way a LangChain tutorial would."""
    warnings.filterwarnings("ignore", message=".*langchain-community.*is being sunset", category=DeprecationWarning)
    from langchain_community.document_loaders import BSHTMLLoader, PyPDFLoader, TextLoader

    docs = []
    for path in sorted(folder.rglob("*")):
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

    def __init__(self, folder: Path, corpus: Path, embedder, k: int = 5) -> None:
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
    """Ours beats the peer on a metric when higher, or when both are at the ceiling (1.00 cannot be beaten)."""
    ok = True
    notes = []
    for label, attr in RETRIEVAL_METRICS:
        a, b = getattr(ours, attr) or 0.0, getattr(peer, attr) or 0.0
        if a > b + 1e-9:
            notes.append(f"{label} {a:.3f} > {b:.3f}")
        elif abs(a - 1.0) < 1e-9 and abs(b - 1.0) < 1e-9:
            notes.append(f"{label} both 1.000 (tie at the ceiling)")
        else:
            ok = False
            notes.append(f"{label} {a:.3f} vs {b:.3f} NOT better")
    return ok, notes


def summary_row(label: str, row: MetricRow, ingest_s: float, chunks: int) -> list[str]:
    return [
        label, f"{ingest_s:.1f}", str(chunks), fmt(row.hit_at_1), fmt(row.hit_at_5), fmt(row.mrr),
        fmt(row.fact_recall), fmt(row.citation_precision), fmt(row.refusal_accuracy), str(row.false_refusals),
        fmt(row.p50_s * 1000 if row.p50_s is not None else None, 0),
        fmt(row.p95_s * 1000 if row.p95_s is not None else None, 0),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=ROOT / "corpus", help="folder of documents")
    parser.add_argument("--questions", type=Path, default=ROOT / "tests/eval/questions.yaml", help="question set")
    parser.add_argument("--k", type=int, default=5, help="passages the peer retrieves")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    parser.add_argument("--details", action="store_true", help="print both per-kind tables and per-question ranks")
    args = parser.parse_args()

    question_set = load_question_set(args.questions)
    print(f"before: {load_average()}")
    model, load_s = load_model(Settings())
    print(f"model {model.name}: loaded in {load_s:.1f} s (shared by both pipelines, not in ingest times)")

    with tempfile.TemporaryDirectory(prefix="policyqa-peer-") as tmp:
        settings = Settings(store_dir=Path(tmp) / "ours", collection="benchmark")
        store = open_store(settings)
        report = ingest_paths([args.corpus], settings, store=store, embedder=model)
        if not report.ok:
            for f in report.files:
                if f.message:
                    print(f"  ours: {f.message}", file=sys.stderr)
        print(f"ours: {report.summary()}")
        peer = Peer(Path(tmp) / "peer", args.corpus, model, k=args.k)
        print(f"peer: {peer.files} files, {peer.chunks} chunks in {peer.ingest_s:.1f} s")

        assistant = Assistant(settings, store=store, embedder=model)
        assistant.ask("warm-up question about critical minerals")
        peer.ask("warm-up question about critical minerals")
        print(f"evaluating: {load_average()}")
        ours_report = evaluate(question_set, assistant.ask, retrieved=lambda a: a.passages)
        peer_report = evaluate(question_set, peer.ask, retrieved=lambda a: a.passages)
        store.close()

    head = ("pipeline", "ingest s", "chunks", "hit@1", "hit@5", "MRR", "facts", "cite-prec", "refusal",
            "false-ref", "p50 ms", "p95 ms")
    print()
    print(f"{len(question_set.questions)} questions; {load_average()}")
    print(table(head, [
        summary_row("ours", ours_report.overall, report.seconds, report.chunks),
        summary_row(f"peer (LangChain, k={args.k})", peer_report.overall, peer.ingest_s, peer.chunks),
    ]))
    ok, notes = beats(ours_report.overall, peer_report.overall)
    print(f"ours beats peer on hit@1/hit@5/MRR: {'yes' if ok else 'no'} ({'; '.join(notes)})")
    if args.details:
        print_details(ours_report, peer_report)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({
            "load_average": load_average(),
            "ours": {"ingest_s": report.seconds, "chunks": report.chunks, **ours_report.as_dict()},
            "peer": {"ingest_s": peer.ingest_s, "chunks": peer.chunks, "k": args.k, **peer_report.as_dict()},
            "ours_beats_peer": ok,
        }, indent=2))
        print(f"wrote {args.json}")
    return 0


def print_details(ours: EvalReport, peer: EvalReport) -> None:
    print("\nours by kind:\n" + ours.table())
    print("\npeer by kind:\n" + peer.table())
    print("\nrank of the first expected document (ours / peer):")
    for a, b in zip(ours.results, peer.results, strict=True):
        print(f"  {a.id:<28} {a.kind:<15} {a.rank or '-'!s:>3} / {b.rank or '-'!s:<3}")


if __name__ == "__main__":
    sys.exit(main())
