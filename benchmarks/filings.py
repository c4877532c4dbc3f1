"""Real filings at speed: our pipeline against the naive LangChain pipeline on a folder of 10-Q/10-K PDFs.

Usage: python benchmarks/filings.py --data PATH [--limit-questions N] [--set FIELD=VALUE ...] [--json OUT]

PATH holds ``pdfs/`` and ``questions.jsonl`` (one question a line with ``question`` and ``source_docs``, the PDF file
names that hold the answer), as in the public sec-10q development set. Each pipeline runs in its own subprocess,
one after the other, so its peak RSS (``ru_maxrss``), the peak of its whole process tree (parse workers included,
sampled every 0.1 s) and its timings are its own:

- ours: ``ingest_paths`` into a temporary store, then ``Assistant.ask`` (or ``Retriever.search`` with
  ``--search``) for every question; ``--set`` overrides any setting, e.g. ``--set embedding_backend=onnx-int8``.
- naive: LangChain's ``PyPDFLoader`` page by page, ``RecursiveCharacterTextSplitter(1000, 200)``, the same MiniLM
  model through our ``SentenceEmbedder`` (a LangChain ``Embeddings``), ``langchain_chroma.Chroma`` and
  ``similarity_search(question, k=5)``.

Scoring is at document level: a retrieved passage is a hit when its PDF is one of the question's ``source_docs``;
hit@1, hit@5 and MRR over the first five passages. Ingest times exclude loading the model. ``--neutral-names``
ingests copies named doc-01.pdf, ... so that no file name can leak the answer into either index.
Targets: ours ingests in at most half the naive wall time, with no higher peak RSS, and reaches hit@5 >= 0.95
and hit@1 >= 0.70.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from _common import fmt, load_average, p50, table

K = 5
TARGET_TIME_RATIO = 0.5
TARGET_HIT5 = 0.95
TARGET_HIT1 = 0.70


# -- shared by both children -------------------------------------------------------------------------


def read_questions(data: Path, limit: int | None) -> list[dict[str, Any]]:
    lines = (data / "questions.jsonl").read_text(encoding="utf-8").splitlines()
    questions = [json.loads(line) for line in lines if line.strip()]
    return questions[:limit] if limit else questions


def prepare_pdfs(data: Path, work: Path, neutral: bool, limit: int | None = None) -> tuple[list[Path], dict[str, str]]:
    """The PDFs to ingest, and the map from the ingested file name back to the dataset's file name."""
    originals = sorted((data / "pdfs").glob("*.pdf"))[:limit]
    if not neutral:
        return originals, {p.name: p.name for p in originals}
    folder = work / "pdfs"
    folder.mkdir(parents=True)
    names: dict[str, str] = {}
    copies = []
    for number, original in enumerate(originals, start=1):
        copy = folder / f"doc-{number:02d}.pdf"
        shutil.copyfile(original, copy)
        names[copy.name] = original.name
        copies.append(copy)
    return copies, names


def score(ranked_docs: Sequence[Sequence[str]], questions: Sequence[dict[str, Any]]) -> dict[str, float]:
    """Document-level hit@1, hit@5 and MRR over the first K passages of each question."""
    hit1 = hit5 = rr = 0.0
    for docs, question in zip(ranked_docs, questions, strict=True):
        expected = set(question["source_docs"])
        rank = next((i for i, doc in enumerate(docs[:K], start=1) if doc in expected), None)
        hit1 += rank == 1
        hit5 += rank is not None
        rr += 1 / rank if rank else 0.0
    n = len(questions) or 1
    return {"hit@1": hit1 / n, "hit@5": hit5 / n, "mrr": rr / n}


def peak_rss_mb() -> dict[str, float]:
    """This process's peak RSS, and the largest of its finished children's.

    The children are the parse workers (about 50 MB each after a filing), but also any helper a library forks:
    a forked child is charged the parent's resident pages, so that figure is an upper bound.
    """
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"peak_rss_mb": own, "worker_peak_rss_mb": children}


def watch_tree_rss(process: subprocess.Popen[bytes], every_s: float = 0.1) -> float:
    """Wait for ``process``; the largest sum of RSS over it and all its descendants (parse workers), sampled.

    ru_maxrss gives each process's own peak; what the machine must hold is their sum at one moment.
    """
    import psutil

    peak = 0
    root = psutil.Process(process.pid)
    while process.poll() is None:
        try:
            members = [root, *root.children(recursive=True)]
            total = 0
            for member in members:
                try:
                    total += member.memory_info().rss
                except psutil.Error:
                    pass
            peak = max(peak, total)
        except psutil.Error:
            pass
        time.sleep(every_s)
    return peak / 1_048_576


def cpu_seconds() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


class TimedEmbedder:
    """Wraps an embedder, adding up the seconds spent encoding; passes everything else through."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.seconds = 0.0
        self.texts = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def _timed(self, fn: Callable[..., Any], texts: Sequence[str]) -> Any:
        started = time.perf_counter()
        try:
            return fn(list(texts))
        finally:
            self.seconds += time.perf_counter() - started
            self.texts += len(texts)

    def encode(self, texts: list[str]) -> Any:
        return self._timed(self.inner.encode, texts)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self._timed(self.inner.embed_documents, texts)

    def embed_query(self, text: str) -> list[float]:
        return self.inner.embed_query(text)


# -- ours --------------------------------------------------------------------------------------------


def run_ours(args: argparse.Namespace) -> dict[str, Any]:
    import ingest.pipeline as pipeline
    from assistant.assistant import Assistant
    from policyqa.embedding import load_embedder
    from policyqa.settings import Settings
    from policyqa.store import open_store

    overrides = dict(item.split("=", 1) for item in args.set)
    questions = read_questions(args.data, args.limit_questions)
    with tempfile.TemporaryDirectory(prefix="policyqa-filings-") as tmp:
        work = Path(tmp)
        pdfs, names = prepare_pdfs(args.data, work, args.neutral_names, args.limit_files)
        settings = Settings(store_dir=work / "store", collection="filings").with_overrides(**overrides)
        if args.models_dir:  # ONNX exports made before this process started, as a deployment keeps them
            settings.store_dir.mkdir(parents=True)
            (settings.store_dir / "models").symlink_to(args.models_dir)
        started = time.perf_counter()
        model = load_embedder(settings)
        model.encode(["warm up the model"] * 8)
        load_s = time.perf_counter() - started
        embedder = TimedEmbedder(model)

        parse_wait = 0.0
        original_results = pipeline._Loader.results

        def timed_results(self: Any, prepared: Any) -> Any:
            nonlocal parse_wait
            iterator = original_results(self, prepared)
            while True:
                started = time.perf_counter()
                try:
                    item = next(iterator)
                except StopIteration:
                    return
                finally:
                    parse_wait += time.perf_counter() - started
                yield item

        pipeline._Loader.results = timed_results  # type: ignore[method-assign]
        workers = pipeline.parse_workers(settings, pdfs)
        store = open_store(settings)
        cpu_before = cpu_seconds()
        report = pipeline.ingest_paths(pdfs, settings, store=store, embedder=embedder)
        ingest_cpu = cpu_seconds() - cpu_before
        failures = [f.message for f in report.files if f.message and f.outcome.value == "failed"]
        pages = store.catalog._db.execute(
            "SELECT COUNT(DISTINCT doc_id || ':' || page) FROM chunks WHERE collection = ?", (settings.collection,)
        ).fetchone()[0]
        assistant = Assistant(settings, store=store, embedder=model)
        ranked: list[list[str]] = []
        latencies: list[float] = []
        details = []
        for question in questions:
            started = time.perf_counter()
            if args.search:
                passages = assistant.retriever.search(question["question"], k=K)
            else:
                passages = list(assistant.ask(question["question"]).passages)
            latencies.append(time.perf_counter() - started)
            docs = [names.get(Path(p.chunk.source).name, Path(p.chunk.source).name) for p in passages[:K]]
            ranked.append(docs)
            details.append({"id": question.get("id"), "docs": docs, "expected": question["source_docs"]})
        titles = sorted({r.meta.title for r in store.documents()})
        store.close()
    return {
        "pipeline": "ours",
        "settings": overrides,
        "parse_workers": workers,
        "files": len(pdfs),
        "pages": pages,
        "chunks": report.chunks,
        "embedded_texts": embedder.texts,
        "parse_s": parse_wait,
        "embed_s": embedder.seconds,
        "total_s": report.seconds,
        "ingest_cpu_s": ingest_cpu,
        "model_load_s": load_s,
        "query_p50_ms": (p50(latencies) or 0) * 1000,
        "failures": failures,
        "titles": titles,
        "details": details,
        **score(ranked, questions),
        **peak_rss_mb(),
    }


# -- naive -------------------------------------------------------------------------------------------


def run_naive(args: argparse.Namespace) -> dict[str, Any]:
    warnings.filterwarnings("ignore", message=".*langchain-community.*", category=DeprecationWarning)
    import chromadb
    from chromadb.config import Settings as ChromaSettings
    from langchain_chroma import Chroma
    from langchain_community.document_loaders import PyPDFLoader
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    from policyqa.embedding import SentenceEmbedder

    questions = read_questions(args.data, args.limit_questions)
    with tempfile.TemporaryDirectory(prefix="policyqa-naive-") as tmp:
        work = Path(tmp)
        pdfs, names = prepare_pdfs(args.data, work, args.neutral_names, args.limit_files)
        started = time.perf_counter()
        model = SentenceEmbedder()
        model.encode(["warm up the model"] * 8)
        load_s = time.perf_counter() - started
        embedder = TimedEmbedder(model)

        cpu_before = cpu_seconds()
        started = time.perf_counter()
        pages = [page for path in pdfs for page in PyPDFLoader(str(path)).load()]
        parse_s = time.perf_counter() - started
        splits = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200).split_documents(pages)
        client = chromadb.PersistentClient(
            path=str(work / "chroma"), settings=ChromaSettings(anonymized_telemetry=False)
        )
        store = Chroma(collection_name="naive", embedding_function=embedder, client=client)
        store.add_documents(splits)
        total_s = time.perf_counter() - started
        ingest_cpu = cpu_seconds() - cpu_before

        ranked: list[list[str]] = []
        latencies: list[float] = []
        details = []
        for question in questions:
            started = time.perf_counter()
            found = store.similarity_search(question["question"], k=K)
            latencies.append(time.perf_counter() - started)
            docs = [names.get(Path(d.metadata.get("source", "")).name, "") for d in found]
            ranked.append(docs)
            details.append({"id": question.get("id"), "docs": docs, "expected": question["source_docs"]})
    return {
        "pipeline": "naive",
        "files": len(pdfs),
        "pages": len(pages),
        "chunks": len(splits),
        "embedded_texts": embedder.texts,
        "parse_s": parse_s,
        "embed_s": embedder.seconds,
        "total_s": total_s,
        "ingest_cpu_s": ingest_cpu,
        "model_load_s": load_s,
        "query_p50_ms": (p50(latencies) or 0) * 1000,
        "details": details,
        **score(ranked, questions),
        **peak_rss_mb(),
    }


# -- the parent: run both, print the table -----------------------------------------------------------


def export_models(args: argparse.Namespace, folder: Path) -> float | None:
    """Make ours' ONNX files (first use) in a process of their own, so the export's torch stays out of the run."""
    backend = dict(item.split("=", 1) for item in args.set).get("embedding_backend", "torch")
    if backend == "torch":
        return None
    code = (
        "import sys, time; from pathlib import Path; from policyqa.embedding import SentenceEmbedder; "
        "t = time.perf_counter(); e = SentenceEmbedder(backend=sys.argv[1], cache_dir=Path(sys.argv[2])); "
        "assert e.backend == sys.argv[1], 'ONNX export failed'; print(time.perf_counter() - t)"
    )
    command = [sys.executable, "-c", code, backend, str(folder)]
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    seconds = float(done.stdout.strip().splitlines()[-1])
    print(f"ours: {backend} model exported in {seconds:.1f} s (first use only; not in the timings below)")
    return seconds


def run_child(pipeline: str, args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as out:
        result_path = Path(out.name)
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--child",
        pipeline,
        "--out",
        str(result_path),
        "--data",
        str(args.data),
    ]
    if args.limit_questions:
        command += ["--limit-questions", str(args.limit_questions)]
    if args.neutral_names:
        command.append("--neutral-names")
    if args.limit_files:
        command += ["--limit-files", str(args.limit_files)]
    if args.search:
        command.append("--search")
    for item in args.set:
        command += ["--set", item]
    if pipeline == "ours" and args.models_dir:
        command += ["--models-dir", str(args.models_dir)]
    print(f"{pipeline}: running ({load_average()})", flush=True)
    process = subprocess.Popen(command)
    tree_peak_mb = watch_tree_rss(process)
    if process.returncode:
        raise subprocess.CalledProcessError(process.returncode, command)
    result = json.loads(result_path.read_text())
    result_path.unlink()
    result["tree_peak_rss_mb"] = tree_peak_mb
    result["load_average_after"] = load_average()
    print(f"{pipeline}: done ({result['load_average_after']})", flush=True)
    return result


def row(result: dict[str, Any]) -> list[str]:
    return [
        result["pipeline"],
        str(result["pages"]),
        str(result["chunks"]),
        fmt(result["parse_s"], 1),
        fmt(result["embed_s"], 1),
        fmt(result["total_s"], 1),
        fmt(result["ingest_cpu_s"], 1),
        fmt(result["peak_rss_mb"], 0),
        fmt(result["tree_peak_rss_mb"], 0),
        fmt(result["hit@1"]),
        fmt(result["hit@5"]),
        fmt(result["mrr"]),
        fmt(result["query_p50_ms"], 0),
    ]


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}" if b else "-"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="folder with pdfs/ and questions.jsonl")
    parser.add_argument("--limit-questions", type=int, default=None, help="ask only the first N questions")
    parser.add_argument("--limit-files", type=int, default=None, help="ingest only the first N PDFs (smoke tests)")
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE", help="a setting for ours")
    parser.add_argument("--pipelines", default="ours,naive", help="which to run, comma-separated")
    parser.add_argument("--search", action="store_true", help="ours: Retriever.search instead of Assistant.ask")
    parser.add_argument("--neutral-names", action="store_true", help="ingest copies named doc-01.pdf, ...")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    parser.add_argument("--child", choices=["ours", "naive"], help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--models-dir", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.data = args.data.resolve()

    if args.child:
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        result = run_ours(args) if args.child == "ours" else run_naive(args)
        args.out.write_text(json.dumps(result))
        return 0

    with tempfile.TemporaryDirectory(prefix="policyqa-filings-models-") as models:
        export_s = export_models(args, Path(models)) if "ours" in args.pipelines else None
        args.models_dir = Path(models) if export_s is not None else None
        results = {name: run_child(name, args) for name in args.pipelines.split(",")}
    if "ours" in results:
        results["ours"]["onnx_export_s"] = export_s
    questions = len(read_questions(args.data, args.limit_questions))
    head = (
        "pipeline",
        "pages",
        "chunks",
        "parse s",
        "embed s",
        "total s",
        "CPU s",
        "peak RSS MB",
        "tree RSS MB",
        "hit@1",
        "hit@5",
        "MRR",
        "query p50 ms",
    )
    print()
    print(f"{len(next(iter(results.values()))['details'])} of {questions} questions, k={K}; {load_average()}")
    print(table(head, [row(r) for r in results.values()]))
    ours, naive = results.get("ours"), results.get("naive")
    if ours:
        print(
            f"ours: settings {ours['settings'] or 'defaults'}; parse workers {ours['parse_workers']}; "
            f"largest child RSS {ours['worker_peak_rss_mb']:.0f} MB (upper bound); model load {ours['model_load_s']:.1f} s"
        )
        for failure in ours["failures"]:
            print(f"  ours failed: {failure}")
    if ours and naive:
        print(
            "ours / naive: "
            + ", ".join(
                f"{label} {ratio(ours[key], naive[key])}"
                for label, key in (
                    ("chunks", "chunks"),
                    ("parse", "parse_s"),
                    ("embed", "embed_s"),
                    ("total", "total_s"),
                    ("CPU", "ingest_cpu_s"),
                    ("peak RSS", "peak_rss_mb"),
                    ("tree RSS", "tree_peak_rss_mb"),
                    ("hit@1", "hit@1"),
                    ("hit@5", "hit@5"),
                    ("MRR", "mrr"),
                )
            )
        )
        checks = [
            ("ingest wall time <= 0.5x naive", ours["total_s"] <= TARGET_TIME_RATIO * naive["total_s"]),
            ("peak RSS (process tree, sampled) no higher than naive",
             ours["tree_peak_rss_mb"] <= naive["tree_peak_rss_mb"]),
            (f"hit@5 >= {TARGET_HIT5}", ours["hit@5"] >= TARGET_HIT5),
            (f"hit@1 >= {TARGET_HIT1}", ours["hit@1"] >= TARGET_HIT1),
        ]
        print("targets: " + "; ".join(f"{label}: {'met' if ok else 'MISSED'}" for label, ok in checks))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"load_average": load_average(), **results}, indent=2))
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
