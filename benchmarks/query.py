"""Query latency as the corpus grows: retrieval (Retriever.search) and full answers (Assistant.ask).

Usage: python benchmarks/query.py [--sizes 1000,10000,100000] [--questions 30] [--pool 2000] [--seed 7]
                                  [--noise 0.02] [--profile] [--json PATH]

A deterministic synthetic corpus of policy-like documents (companies, agencies, minerals, places,
amounts, dates) is written straight into one temporary store through CorpusStore (begin_document,
add_documents, finish_document), growing to each size in turn; at each size the same questions are
asked (after excluded warm-up questions) with the model loaded once.

How vectors are made: the first --pool chunks are embedded with the real model. Every later chunk is
new text about the topic (company, agency, mineral, facility) of a pool document, and its vector is
the vector of one of that document's pool chunks plus Gaussian noise (--noise per dimension),
renormalised. Dense search thus sees realistic clusters and the lexical index sees real,
varied text, without embedding 100k chunks for real (about 20 minutes at ~80 chunks/s on 2 cores).

Targets: full answer p50 < 300 ms at 10k chunks; latency grows sub-linearly with corpus size.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import random
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from _common import fmt, load_average, load_model, p50, percentile, table

from assistant.assistant import Assistant
from policyqa.settings import Settings
from policyqa.store import CorpusStore, open_store
from policyqa.types import Chunk, DocType, DocumentMeta

ANSWER_TARGET_S = 0.300
ANSWER_TARGET_SIZE = 10_000
BATCH_CHUNKS = 512  # chunks per Chroma write, as the ingest pipeline batches them

# -- vocabulary ------------------------------------------------------------------------------------

_NAME_HEADS = [
    "Aldren", "Borealis", "Cascadia", "Dunmore", "Elkhorn", "Fairweather", "Granite Peak", "Halcyon", "Ironwood",
    "Juniper", "Keystone", "Lodestar", "Meridian", "Northgate", "Orion", "Pinnacle", "Quarry Hill", "Redstone",
    "Sierra Blanca", "Tamarack", "Umber", "Vantage", "Westbrook", "Yellowknife", "Zenith", "Copperline",
    "Bluewater", "Summit Ridge", "Atlas", "Frontier",
]
_NAME_TAILS = [
    "Minerals", "Metals", "Resources", "Materials", "Mining Corp.", "Lithium", "Rare Earths", "Refining",
    "Critical Metals", "Magnetics", "Energy Metals", "Battery Materials", "Holdings", "Nickel",
]
AGENCIES = [
    "the Department of Energy", "the Department of Defense", "the Office of Strategic Capital",
    "the Export-Import Bank", "the Development Finance Corporation", "the Department of the Interior",
    "the Department of Commerce", "the Loan Programs Office", "the National Energy Dominance Council",
    "the Defense Logistics Agency", "the Bureau of Land Management", "the U.S. Geological Survey",
]
MINERALS = [
    "lithium", "cobalt", "nickel", "graphite", "copper", "zinc", "germanium", "gallium", "antimony", "tungsten",
    "uranium", "vanadium", "manganese", "rare earth", "NdPr oxide", "scandium", "tellurium", "indium", "platinum",
    "palladium", "bismuth", "magnesium", "titanium", "boron",
]
FACILITIES = [
    "refinery", "smelter", "mine", "processing plant", "magnet factory", "separation facility", "recycling plant",
    "hydroxide plant", "cathode plant", "concentrator",
]
PLACES = [
    "Clarksville, Tennessee", "Reno, Nevada", "Elko, Nevada", "Kings Mountain, North Carolina", "Fort Worth, Texas",
    "Corpus Christi, Texas", "Mountain Pass, California", "Salton Sea, California", "Butte, Montana",
    "Stillwater, Montana", "Fairbanks, Alaska", "Kotzebue, Alaska", "Duluth, Minnesota", "Marquette, Michigan",
    "Tonopah, Nevada", "Lander, Wyoming", "Moab, Utah", "Globe, Arizona", "Tucson, Arizona", "Spokane, Washington",
    "Boise, Idaho", "Salmon, Idaho", "Casper, Wyoming", "Baton Rouge, Louisiana", "Mobile, Alabama",
    "Chattanooga, Tennessee", "Savannah, Georgia", "Charleston, South Carolina", "Pittsburgh, Pennsylvania",
    "Toledo, Ohio", "Hibbing, Minnesota", "Rapid City, South Dakota", "Grand Junction, Colorado",
    "Carlsbad, New Mexico", "Ely, Minnesota", "Lewiston, Idaho", "Bakersfield, California", "Magma, Arizona",
]
KINDS = ["loan agreement", "equity investment", "current report", "press release", "fact sheet", "order summary"]
_MONTHS = [
    "January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November",
    "December",
]

TEMPLATES = [
    "{A} agreed to provide a {amount} loan to {C} for its {M} {F} in {P}.",
    "On {date}, {C} announced that {A} would take a {pct} percent equity stake in the company.",
    "The {F} in {P} is expected to produce {tons} metric tons of {M} per year by {year}.",
    "Under Section 232 of the Trade Expansion Act of 1962, the Secretary of Commerce shall investigate imports of "
    "processed {M} and {M2}.",
    "The order directs {A} to prioritize permits for {M} projects on federal lands within {days} days.",
    "{C} said the financing would create {n} construction jobs and {n2} permanent jobs in {P}.",
    "The agreement sets a price floor of ${price} per kilogram for {M} for {years} years, with {A} paying the "
    "difference.",
    "Warrants for an additional {pct} percent of {C} were issued to {A} on {date}.",
    "China controls about {pct} percent of global {M} refining, according to the U.S. Geological Survey.",
    "{C} and {C2} signed an offtake agreement for {M2} concentrate from the {P} site on {date}.",
    "{A} closed the first draw of {amount} under the loan on {date}, according to a current report filed by {C}.",
    "Permitting for the {F} near {P} is covered by FAST-41 transparency, and a record of decision is expected "
    "in {year}.",
    "The investment is part of a broader push by {A} to reduce reliance on foreign adversaries for {M} and {M2}.",
    "Shares of {C} rose {pct} percent on {date} after the announcement.",
    "The {F} will process ore from the {P2} deposit, which holds an estimated {tons} metric tons of {M}.",
    "Each agency head shall report to the President on {M} supply chain risks within {days} days.",
    "{A} will buy all of the {M} output of the {F} for {years} years under a take-or-pay contract with {C}.",
    "The board of {C} approved the {amount} expansion of the {F} at a meeting on {date}.",
]

QUESTION_TEMPLATES = [
    "How much did {A} lend to {C} for the {M} {F}?",
    "What stake did {A} take in {C}?",
    "When did {C} announce the investment by {A}?",
    "How many metric tons of {M} will the {F} in {P} produce each year?",
    "What price floor does the agreement with {C} set for {M}?",
    "How many jobs will the {C} {F} create in {P}?",
]


def company_names() -> list[str]:
    return [f"{h} {t}" for h in _NAME_HEADS for t in _NAME_TAILS]


@dataclass(frozen=True, slots=True)
class Topic:
    company: str
    agency: str
    mineral: str
    facility: str
    place: str


@dataclass
class SynthDoc:
    meta: DocumentMeta
    chunks: list[Chunk]
    topic: Topic
    source_doc: int | None = None  # for a bulk document: the pool document whose vectors it borrows


class Generator:
    """A deterministic stream of synthetic documents (5-15 chunks of 5-7 sentences, about 170 word pieces each)."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.companies = company_names()
        self.count = 0

    def _date(self) -> str:
        r = self.rng
        return f"{r.choice(_MONTHS)} {r.randint(1, 28)}, {r.randint(2019, 2025)}"

    def _amount(self) -> str:
        r = self.rng
        if r.random() < 0.7:
            return f"${r.randint(5, 990)} million"
        return f"${r.randint(1, 9)}.{r.randint(0, 99):02d} billion"

    def topic(self) -> Topic:
        r = self.rng
        return Topic(r.choice(self.companies), r.choice(AGENCIES), r.choice(MINERALS), r.choice(FACILITIES),
                     r.choice(PLACES))

    def sentence(self, t: Topic) -> str:
        r = self.rng
        template = r.choice(TEMPLATES)
        text = template.format(
            A=t.agency, C=t.company, M=t.mineral, F=t.facility, P=t.place, amount=self._amount(),
            pct=r.choice([2.5, 5, 8, 10, 12, 15, 20, 25, 35, 49, 60, 70, 85, 90]), date=self._date(),
            year=r.randint(2026, 2032), tons=f"{r.randint(1, 400) * 250:,}", days=r.choice([30, 45, 60, 90, 120, 180]),
            n=r.randint(2, 40) * 50, n2=r.randint(1, 30) * 10, price=r.choice([55, 80, 110, 140, 250, 600]),
            years=r.choice([5, 7, 10, 15, 20]), M2=r.choice(MINERALS), C2=r.choice(self.companies),
            P2=r.choice(PLACES).split(",")[0],
        )
        return text[0].upper() + text[1:]

    def document(self, n_chunks: int | None = None, topic: Topic | None = None) -> SynthDoc:
        r = self.rng
        n = self.count
        self.count += 1
        t = topic or self.topic()
        kind = r.choice(KINDS)
        title = f"{t.company} and {t.agency.removeprefix('the ')}: {t.mineral} {t.facility} {kind}"
        published = f"{r.randint(2019, 2025)}-{r.randint(1, 12):02d}-{r.randint(1, 28):02d}"
        doc_id = f"synth-{n:06d}"
        meta = DocumentMeta(
            doc_id=doc_id, title=title, source=f"synthetic/{doc_id}.md", doc_type=r.choice(list(DocType)),
            published=published, publisher="synthetic benchmark corpus", content_hash=f"synthetic-{n}",
        )
        chunks = []
        offset = 0
        for i in range(n_chunks if n_chunks is not None else r.randint(5, 15)):
            text = " ".join(self.sentence(t) for _ in range(r.randint(5, 7)))
            chunks.append(Chunk(doc_id=doc_id, index=i, text=text, page=None, start=offset, end=offset + len(text),
                                headings=(), context=title))
            offset += len(text) + 2
        return SynthDoc(meta, chunks, t)


# -- building the store ----------------------------------------------------------------------------


@dataclass
class Build:
    """The growing store and how it was made."""

    store: CorpusStore
    gen: Generator
    pool_docs: list[SynthDoc] = field(default_factory=list)
    pool_vectors: list[np.ndarray] = field(default_factory=list)  # per pool document, rows = its chunks
    chunks: int = 0
    pool_chunks: int = 0
    pool_written: int = 0  # pool documents already in the store
    embed_s: float = 0.0
    begin_s: float = 0.0
    write_s: float = 0.0
    finish_s: float = 0.0
    noise_cos: list[float] = field(default_factory=list)


def build_pool(build: Build, model, pool: int) -> None:
    """Generate documents until ``pool`` chunks and embed them for real (chunk.indexed_text, as ingest does)."""
    docs: list[SynthDoc] = []
    total = 0
    while total < pool:
        doc = build.gen.document()
        if total + len(doc.chunks) > pool:
            doc.chunks = doc.chunks[: pool - total]
        docs.append(doc)
        total += len(doc.chunks)
    texts = [c.indexed_text for d in docs for c in d.chunks]
    started = time.perf_counter()
    vectors = model.encode(texts)
    build.embed_s = time.perf_counter() - started
    row = 0
    for d in docs:
        build.pool_vectors.append(vectors[row : row + len(d.chunks)])
        row += len(d.chunks)
    build.pool_docs = docs
    build.pool_chunks = total


def bulk_doc(build: Build, rng: np.random.Generator, noise: float) -> tuple[SynthDoc, np.ndarray]:
    """A new document about a pool document's topic; its vectors are that document's, perturbed."""
    src = int(rng.integers(len(build.pool_docs)))
    base = build.pool_docs[src].topic
    r = build.gen.rng
    topic = Topic(base.company, base.agency, base.mineral, base.facility, r.choice(PLACES))
    doc = build.gen.document(topic=topic)
    doc.source_doc = src
    source_vectors = build.pool_vectors[src]
    picks = source_vectors[rng.integers(len(source_vectors), size=len(doc.chunks))]
    noisy = picks + rng.normal(0.0, noise, size=picks.shape)
    noisy /= np.linalg.norm(noisy, axis=1, keepdims=True)
    build.noise_cos.extend(float(c) for c in np.sum(noisy * picks, axis=1))
    return doc, noisy.astype(np.float32)


def write_batch(build: Build, batch: list[tuple[SynthDoc, np.ndarray]]) -> None:
    if not batch:
        return
    store = build.store
    t0 = time.perf_counter()
    for doc, _ in batch:
        store.begin_document(doc.meta)
    t1 = time.perf_counter()
    store.add_documents([(d.meta, d.chunks) for d, _ in batch], np.vstack([v for _, v in batch]))
    t2 = time.perf_counter()
    for doc, _ in batch:
        store.finish_document(doc.meta.doc_id, len(doc.chunks))
    t3 = time.perf_counter()
    build.begin_s += t1 - t0
    build.write_s += t2 - t1
    build.finish_s += t3 - t2
    build.chunks += sum(len(d.chunks) for d, _ in batch)


def grow(build: Build, target: int, rng: np.random.Generator, noise: float) -> float:
    """Add chunks until the store holds ``target``; returns the seconds it took."""
    started = time.perf_counter()
    batch: list[tuple[SynthDoc, np.ndarray]] = []
    queued = 0
    # Pool documents first, with their real vectors.
    pool_written = build.pool_written
    while pool_written < len(build.pool_docs) and build.chunks + queued < target:
        doc = build.pool_docs[pool_written]
        vectors = build.pool_vectors[pool_written]
        room = target - build.chunks - queued
        if len(doc.chunks) > room:  # only when a size is not a multiple of the pool layout
            doc = SynthDoc(doc.meta, doc.chunks[:room], doc.topic)
            vectors = vectors[:room]
            build.pool_docs[pool_written] = doc
            build.pool_vectors[pool_written] = vectors
        batch.append((doc, vectors))
        queued += len(doc.chunks)
        pool_written += 1
        if queued >= BATCH_CHUNKS:
            write_batch(build, batch)
            batch, queued = [], 0
    build.pool_written = pool_written
    while build.chunks + queued < target:
        doc, vectors = bulk_doc(build, rng, noise)
        room = target - build.chunks - queued
        if len(doc.chunks) > room:
            doc.chunks = doc.chunks[:room]
            vectors = vectors[:room]
        batch.append((doc, vectors))
        queued += len(doc.chunks)
        if queued >= BATCH_CHUNKS:
            write_batch(build, batch)
            batch, queued = [], 0
    write_batch(build, batch)
    return time.perf_counter() - started


# -- questions -------------------------------------------------------------------------------------


def make_questions(build: Build, count: int, warmup: int, smallest: int) -> tuple[list[str], list[str]]:
    """Questions about documents in the first ``smallest`` chunks, so every size holds their answers."""
    docs: list[SynthDoc] = []
    total = 0
    for d in build.pool_docs:
        if total + len(d.chunks) > smallest:
            break
        docs.append(d)
        total += len(d.chunks)
    rng = random.Random(1234)
    picks = [docs[i % len(docs)] for i in rng.sample(range(max(len(docs), count + warmup)), count + warmup)]
    questions = []
    for i, d in enumerate(picks):
        t = d.topic
        template = QUESTION_TEMPLATES[i % len(QUESTION_TEMPLATES)]
        q = template.format(A=t.agency, C=t.company, M=t.mineral, F=t.facility, P=t.place)
        questions.append(q[0].upper() + q[1:])
    return questions[warmup:], questions[:warmup]


# -- measuring -------------------------------------------------------------------------------------


def measure(assistant: Assistant, questions: list[str], warmup: list[str]) -> dict[str, list[float]]:
    store, retriever, model = assistant.store, assistant.retriever, assistant.embedder
    n = assistant.settings.candidate_k
    for q in warmup:
        retriever.search(q)
        assistant.ask(q)
    times: dict[str, list[float]] = {
        k: [] for k in ("embed", "dense", "lexical", "retrieve", "ask", "ask_retrieve", "ask_answer", "retrieve_cpu",
                        "ask_cpu")
    }
    for q in questions:
        t0 = time.perf_counter()
        vector = model.encode([q])[0]
        t1 = time.perf_counter()
        store.dense_search(vector, n)
        t2 = time.perf_counter()
        store.lexical_search(q, n)
        t3, c3 = time.perf_counter(), time.process_time()
        retriever.search(q)  # embeds the query itself, as a caller without a vector would
        t4, c4 = time.perf_counter(), time.process_time()
        answer = assistant.ask(q)
        t5, c5 = time.perf_counter(), time.process_time()
        times["retrieve_cpu"].append(c4 - c3)  # CPU seconds of all this process's threads
        times["ask_cpu"].append(c5 - c4)
        times["embed"].append(t1 - t0)
        times["dense"].append(t2 - t1)
        times["lexical"].append(t3 - t2)
        times["retrieve"].append(t4 - t3)
        times["ask"].append(t5 - t4)
        times["ask_retrieve"].append(answer.timings.get("retrieve_s", 0.0))
        times["ask_answer"].append(answer.timings.get("answer_s", 0.0))
    return times


def ms(values: list[float], q: float) -> float | None:
    v = p50(values) if q == 50 else percentile(values, q)
    return None if v is None else v * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000", help="comma-separated chunk counts, grown in order")
    parser.add_argument("--questions", type=int, default=30, help="timed questions per size (warm-up excluded)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed questions asked first at each size")
    parser.add_argument("--pool", type=int, default=2000, help="chunks embedded with the real model")
    parser.add_argument("--noise", type=float, default=0.02, help="per-dimension noise on borrowed vectors")
    parser.add_argument("--seed", type=int, default=7, help="seed of the synthetic corpus")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch.set_num_threads(N) before measuring (default: torch's own choice)")
    parser.add_argument("--profile", action="store_true", help="cProfile the answers at the largest size")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args()
    sizes = sorted({int(s) for s in args.sizes.split(",") if s.strip()})
    if not sizes or sizes[0] < 50:
        parser.error("--sizes needs chunk counts of at least 50")

    print(f"before: {load_average()}")
    settings_base = Settings()
    model, load_s = load_model(settings_base)
    print(f"model {model.name}: loaded once in {load_s:.1f} s")
    results = []
    with tempfile.TemporaryDirectory(prefix="policyqa-query-") as tmp:
        settings = Settings(store_dir=Path(tmp), collection="benchmark")
        store = open_store(settings)
        build = Build(store=store, gen=Generator(args.seed))
        pool = min(args.pool, sizes[-1])
        build_pool(build, model, pool)
        print(
            f"vectors: the first {build.pool_chunks} chunks embedded with the real model in {build.embed_s:.1f} s "
            f"({build.pool_chunks / build.embed_s:.0f} chunks/s); later chunks are new text on a pool document's "
            f"topic with a pool vector + N(0, {args.noise}^2) noise, renormalised"
        )
        questions, warmup = make_questions(build, args.questions, args.warmup, sizes[0])
        rng = np.random.default_rng(args.seed + 1)
        assistant = Assistant(settings, store=store, embedder=model)
        if args.threads:
            import torch

            torch.set_num_threads(args.threads)
        print(f"torch intra-op threads while measuring: {_torch_threads()}")
        for size in sizes:
            seconds = grow(build, size, rng, args.noise)
            stats = store.stats()
            cos = f", borrowed vectors' mean cosine to source {np.mean(build.noise_cos):.3f}" if build.noise_cos else ""
            print(
                f"\n{size} chunks ({stats.documents} docs): grew in {seconds:.1f} s "
                f"(begin_document {build.begin_s:.1f} s, add_documents {build.write_s:.1f} s, "
                f"finish_document {build.finish_s:.1f} s cumulative){cos}"
            )
            print(f"measuring: {load_average()}")
            times = measure(assistant, questions, warmup)
            results.append({"size": size, "documents": stats.documents, "grow_s": seconds,
                            "load_average": load_average(), **{k: v for k, v in times.items()}})
            print(
                f"  retrieval p50 {fmt(ms(times['retrieve'], 50), 1)} ms p95 {fmt(ms(times['retrieve'], 95), 1)} ms;"
                f" answer p50 {fmt(ms(times['ask'], 50), 1)} ms p95 {fmt(ms(times['ask'], 95), 1)} ms; {load_average()}"
            )
        if args.profile:
            profiler = cProfile.Profile()
            profiler.enable()
            for q in questions:
                assistant.ask(q)
            profiler.disable()
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(35)
            print(f"\ncProfile of {len(questions)} answers at {sizes[-1]} chunks:\n{out.getvalue()}")
        store.close()

    print_summary(results, args)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"pool": args.pool, "noise": args.noise, "seed": args.seed,
                                         "torch_threads": _torch_threads(), "results": results}, indent=2))
        print(f"wrote {args.json}")
    return 0


def _torch_threads() -> int:
    import torch

    return torch.get_num_threads()


def print_summary(results: list[dict], args: argparse.Namespace) -> None:
    head = ("chunks", "embed p50", "dense p50", "lexical p50", "retrieval p50", "retrieval p95", "answer p50",
            "answer p95", "answer-stage p50", "retr cpu p50", "answer cpu p50", "growth (retr / answer p50)")
    rows = []
    previous = None
    for r in results:
        growth = "-"
        if previous is not None:
            retr_ratio = ms(r["retrieve"], 50) / ms(previous["retrieve"], 50)
            ask_ratio = ms(r["ask"], 50) / ms(previous["ask"], 50)
            growth = f"x{r['size'] / previous['size']:.0f} chunks: x{retr_ratio:.2f} / x{ask_ratio:.2f}"
        rows.append([
            str(r["size"]), fmt(ms(r["embed"], 50), 1), fmt(ms(r["dense"], 50), 1), fmt(ms(r["lexical"], 50), 1),
            fmt(ms(r["retrieve"], 50), 1), fmt(ms(r["retrieve"], 95), 1), fmt(ms(r["ask"], 50), 1),
            fmt(ms(r["ask"], 95), 1), fmt(ms(r["ask_answer"], 50), 1), fmt(ms(r["retrieve_cpu"], 50), 1),
            fmt(ms(r["ask_cpu"], 50), 1), growth,
        ])
        previous = r
    print(f"\nlatency in ms over {args.questions} questions per size (warm-up excluded); {load_average()}")
    print("retrieval = Retriever.search incl. query embedding; answer = Assistant.ask end to end; answer-stage = the")
    print("answerer alone (Answer.timings answer_s); embed/dense/lexical = encode, Chroma query, FTS5 query alone;")
    print("cpu = CPU time of all the process's threads; torch's threads spin under contention, so it rises with load too")
    print(table(head, rows))
    at_target = [r for r in results if r["size"] == ANSWER_TARGET_SIZE]
    if at_target:
        value = ms(at_target[0]["ask"], 50)
        verdict = "met" if value < ANSWER_TARGET_S * 1000 else "NOT met"
        target_ms = ANSWER_TARGET_S * 1000
        print(f"target answer p50 < {target_ms:.0f} ms at {ANSWER_TARGET_SIZE} chunks: {verdict} ({value:.0f} ms)")
    if len(results) >= 2:
        # Sub-linear: at every step the p50 grows by less than the chunk count does (log-log exponent < 1).
        for label, key in (("retrieval", "retrieve"), ("answer", "ask")):
            steps = []
            ok = True
            for a, b in zip(results, results[1:], strict=False):
                chunk_ratio = b["size"] / a["size"]
                ratio = ms(b[key], 50) / ms(a[key], 50)
                exponent = np.log(ratio) / np.log(chunk_ratio) if ratio > 0 and chunk_ratio > 1 else float("nan")
                ok = ok and ratio < chunk_ratio
                steps.append(
                    f"{a['size']}->{b['size']}: x{ratio:.2f} for x{chunk_ratio:.0f} chunks (exponent {exponent:.2f})"
                )
            print(f"{label} p50 growth {'; '.join(steps)}: {'sub-linear' if ok else 'NOT sub-linear'}")


if __name__ == "__main__":
    sys.exit(main())
