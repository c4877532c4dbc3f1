"""The ``policyqa`` command: a thin shell that builds settings, calls the library and prints results."""

from __future__ import annotations

import datetime as dt
import logging
import sys
import unicodedata
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

import click

from policyqa.errors import PolicyQAError
from policyqa.settings import Settings
from policyqa.types import Outcome, Progress

if TYPE_CHECKING:
    from pathlib import Path

    from assistant.deals import Deal
    from assistant.deals_llm import DealRun

F = TypeVar("F", bound=Callable[..., Any])


class _Group(click.Group):
    """Turns library errors into one line on stderr and exit status 1, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except PolicyQAError as exc:
            click.secho(f"error: {exc}", fg="red", err=True)
            ctx.exit(1)


@click.group(cls=_Group)
@click.option("--store-dir", type=click.Path(file_okay=False), help="Store folder [env POLICYQA_STORE_DIR].")
@click.option("--collection", help="Chroma collection name [env POLICYQA_COLLECTION].")
@click.option("--chroma-url", help="Chroma server URL; unset = embedded store [env POLICYQA_CHROMA_URL].")
@click.option("--database-url", help="PostgreSQL URL of a shared catalog; unset = SQLite [env POLICYQA_DATABASE_URL].")
@click.option("--model", "embedding_model", help="Embedding model name or path [env POLICYQA_EMBEDDING_MODEL].")
@click.option("--llm", help="Answer with 'ollama:MODEL' or 'openai:MODEL' [env POLICYQA_LLM]; unset = offline.")
@click.option("--llm-base-url", help="Base URL of the LLM server [env POLICYQA_LLM_BASE_URL].")
@click.option("-v", "--verbose", is_flag=True, help="Log what happens.")
@click.version_option(package_name="policyqa")
@click.pass_context
def main(ctx: click.Context, verbose: bool, **overrides: Any) -> None:
    """Ask questions of policy documents and get answers with citations."""
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if not verbose:  # pypdf warns about every damaged file it reads; the outcome line already says it
        logging.getLogger("pypdf").setLevel(logging.ERROR)
    try:
        ctx.obj = Settings().with_overrides(**overrides)
    except Exception as exc:  # pydantic's ValidationError names the field
        raise click.UsageError(f"invalid setting: {exc}") from None


def _settings() -> Settings:
    return click.get_current_context().find_root().obj


@contextmanager
def _progress_bars(enabled: bool) -> Iterator[Callable[[Progress], None] | None]:
    if not enabled:
        yield None
        return
    from tqdm import tqdm

    bars: dict[str, Any] = {}

    def update(p: Progress) -> None:
        if p.stage not in bars:
            unit = "file" if p.stage == "files" else "chunk"
            bars[p.stage] = tqdm(total=p.total or None, unit=unit, desc=p.stage, position=len(bars), leave=True)
        bar = bars[p.stage]
        bar.n = p.done
        if p.item:
            bar.set_postfix_str(p.item[-40:], refresh=False)
        bar.refresh()

    try:
        yield update
    finally:
        for bar in bars.values():
            bar.close()


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--prune", is_flag=True, help="Remove documents whose files are gone.")
@click.option("--rebuild", is_flag=True, help="Empty the collection and ingest from scratch.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bars.")
def ingest(paths: tuple[str, ...], prune: bool, rebuild: bool, quiet: bool) -> None:
    """Ingest files and folders (PDF, HTML, Markdown, text), recursively and incrementally."""
    from ingest.pipeline import ingest_paths

    with _progress_bars(not quiet and sys.stderr.isatty()) as progress:
        report = ingest_paths(paths, _settings(), on_progress=progress, prune=prune, rebuild=rebuild)
    colors = {Outcome.FAILED: "red", Outcome.SKIPPED: "yellow", Outcome.REMOVED: "yellow"}
    for f in report.files:
        if f.outcome in (Outcome.FAILED, Outcome.SKIPPED, Outcome.REMOVED) or f.message:
            line = f"{f.outcome.value:9} {f.message or f.path}"
            click.secho(line, fg=colors.get(f.outcome), err=f.outcome is Outcome.FAILED)
    click.echo(report.summary())
    if not report.ok:
        sys.exit(1)


@main.command()
def docs() -> None:
    """List the ingested documents."""
    from policyqa.store import open_store

    store = open_store(_settings())
    records = store.documents()
    if not records:
        click.echo("no documents yet: run `policyqa ingest PATH`")
        return
    rows = [
        (
            printable(r.meta.title)[:48], r.meta.doc_type.value, r.meta.published or "-",
            str(r.chunk_count) if r.state == "complete" else "pending",
            printable(r.meta.doc_id),
            printable(r.meta.source),
        )
        for r in records
    ]
    header = ("title", "type", "date", "chunks", "doc_id", "source")
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(5)]
    for row in [header, *rows]:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=False)) + "  " + row[5])
    stats = store.stats()
    pending = f" ({stats.pending} pending: searched once their ingest completes)" if stats.pending else ""
    click.echo(f"{len(records)} documents{pending}, {stats.chunks} chunks in {stats.location}")


def printable(text: str) -> str:
    """``text`` with control, format and separator characters (newlines, ESC, U+202E...) shown as escapes.

    A file name or title may carry them; printed raw they break the table, reorder it (bidi overrides) or
    drive the terminal.
    """
    return "".join(
        ch.encode("unicode_escape").decode("ascii") if unicodedata.category(ch) in _UNPRINTABLE else ch for ch in text
    )


_UNPRINTABLE = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


@main.command()
@click.argument("doc_ids", nargs=-1, required=True)
def remove(doc_ids: tuple[str, ...]) -> None:
    """Remove documents by their doc_id (see `policyqa docs`)."""
    from policyqa.store import open_store

    store = open_store(_settings())
    missing = []
    with store.writer_lock():
        for doc_id in doc_ids:
            if store.remove(doc_id):
                click.echo(f"removed {doc_id}")
            else:
                missing.append(doc_id)
    if missing:
        raise PolicyQAError(f"no such document: {', '.join(missing)}")


@main.command()
@click.option(
    "--repair", is_flag=True,
    help="Restore a consistent store: rebuild the keyword index, ingest again the documents whose vectors, chunks or "
    "catalog were lost (from their source files), then drop stray vectors. A damaged catalog is kept, renamed.",
)
@click.option("--quiet", "-q", is_flag=True, help="No progress bars while re-ingesting.")
def check(repair: bool, quiet: bool) -> None:
    """Verify that the catalog file, the registry, the keyword index and Chroma agree."""
    from ingest.repair import diagnose, repair_store

    settings = _settings()
    if not repair:
        report = diagnose(settings)
        _print_consistency(report)
        if report.ok:
            click.echo("store is consistent")
            return
        click.secho("store is inconsistent: run `policyqa check --repair`", fg="red")
        sys.exit(1)
    with _progress_bars(not quiet and sys.stderr.isatty()) as progress:
        result = repair_store(settings, on_progress=progress)
    _print_consistency(result.found)
    if result.found.ok:
        click.echo("store is consistent")
        return
    if result.catalog_set_aside is not None:
        click.echo(f"damaged catalog kept as {result.catalog_set_aside}")
    if result.ingest is not None:
        for f in result.ingest.files:
            if f.outcome is Outcome.FAILED:
                click.secho(f"failed    {f.message or f.path}", fg="red", err=True)
        click.echo(f"re-ingested from source files: {result.ingest.summary()}")
    for source in result.lost_sources:
        click.secho(f"lost      {source}: the file is gone; ingest it again from where it is now", fg="yellow")
    if result.final.ok:
        click.echo("repaired: store is consistent")
    else:
        _print_consistency(result.final)
        click.secho("repair incomplete: see the lines above", fg="red")
        sys.exit(1)


def _print_consistency(report: Any) -> None:
    if report.catalog_damage:
        click.secho(f"catalog damaged: {report.catalog_damage}", fg="red")
        return
    click.echo(
        f"pending documents: {len(report.pending_docs)}; chunks missing in Chroma: {report.missing_in_chroma}; "
        f"stray vectors: {report.extra_in_chroma}; chunk-count mismatches: {len(report.count_mismatch_docs)}; "
        f"chunks missing in the keyword index: {report.missing_in_lexical}; "
        f"stray keyword entries: {report.extra_in_lexical}"
    )


def _filters(doc_type: tuple[str, ...], since: str | None, until: str | None, doc: tuple[str, ...]) -> Any:
    from policyqa.types import DocType, Filters

    return Filters(
        doc_types=tuple(DocType.parse(t) for t in doc_type), date_from=since, date_to=until, doc_ids=tuple(doc)
    )


def _iso_date(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value.strip()).isoformat()
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date like 2025-07-10 (YYYY-MM-DD)") from None


def _doc_types(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> tuple[str, ...]:
    from policyqa.types import DocType

    for value in values:
        if DocType.parse(value) is DocType.OTHER and value.strip().lower() != DocType.OTHER.value:
            kinds = ", ".join(t.value for t in DocType)
            raise click.BadParameter(f"{value!r} is not a document type; use one of: {kinds}")
    return values


def _filter_options(f: F) -> F:
    f = click.option(
        "--type", "doc_type", multiple=True, callback=_doc_types,
        help="Only these document types (article, filing, policy, other).",
    )(f)
    since = "Only documents published on or after this date (YYYY-MM-DD)."
    until = "Only documents published on or before this date (YYYY-MM-DD)."
    f = click.option("--since", callback=_iso_date, help=since)(f)
    f = click.option("--until", callback=_iso_date, help=until)(f)
    f = click.option("--doc", multiple=True, help="Only this document (doc_id); repeatable.")(f)
    return f


def _print_answer(answer: Any, *, show_query: bool) -> None:
    from assistant.render import answer_text

    if show_query:
        click.secho(f"(searched for: {answer.query})", dim=True)
    click.echo(answer_text(answer))
    click.secho(f"(answered by {answer.backend})", dim=True)


@main.command()
@click.argument("question")
@_filter_options
@click.option("--json", "as_json", is_flag=True, help="Print the answer, citations and timings as JSON.")
def ask(question: str, doc_type: tuple[str, ...], since: str | None, until: str | None, doc: tuple[str, ...], as_json: bool) -> None:
    """Answer one question from the ingested documents, with numbered sources."""
    from assistant import Assistant

    answer = Assistant(_settings()).ask(question, filters=_filters(doc_type, since, until, doc))
    if as_json:
        import json

        click.echo(json.dumps(_answer_dict(answer), indent=2))
        return
    _print_answer(answer, show_query=False)


def _answer_dict(answer: Any) -> dict[str, Any]:
    return {
        "answer": answer.text,
        "answerable": answer.answerable,
        "query": answer.query,
        "backend": answer.backend,
        "notice": answer.notice,
        "citations": [
            {
                "number": c.number, "doc_id": c.chunk.doc_id, "title": c.chunk.title, "doc_type": c.chunk.doc_type.value,
                "date": c.chunk.published, "page": c.chunk.page, "source": c.chunk.source, "quote": c.quote,
                "span": [c.chunk.start, c.chunk.end], "score": c.passage.score,
            }
            for c in answer.citations
        ],
        "timings": answer.timings,
    }


@main.command()
@_filter_options
def chat(doc_type: tuple[str, ...], since: str | None, until: str | None, doc: tuple[str, ...]) -> None:
    """A conversation in the terminal: follow-up questions see the earlier turns. Empty line or Ctrl-D ends it."""
    from assistant import Assistant, Conversation

    conversation = Conversation(Assistant(_settings()))
    filters = _filters(doc_type, since, until, doc)
    click.echo("Ask a question (empty line to quit, /new for a new conversation).")
    while True:
        try:
            question = click.prompt("you", default="", show_default=False, prompt_suffix="> ")
        except (EOFError, click.Abort):
            break
        if not question.strip():
            break
        if question.strip() == "/new":
            conversation.reset()
            click.echo("(new conversation)")
            continue
        answer = conversation.ask(question, filters)
        _print_answer(answer, show_query=answer.query != question.strip())
        click.echo("")


@main.command(name="eval")
@click.argument("question_set", required=False, type=click.Path(exists=True, dir_okay=False))
@click.option("--json", "json_path", type=click.Path(dir_okay=False), help="Also write the full report as JSON here.")
@click.option(
    "--split", type=click.Choice(["all", "tune", "check"]), default="all", show_default=True,
    help="Score one half only: ids ending in an odd number tune, even ones check (others by a hash of the id).",
)
@click.option(
    "--ingest", "documents", multiple=True, type=click.Path(exists=True),
    help="Ingest these files or folders first (incremental), e.g. the set's docs/ folder.",
)
def eval_command(question_set: str | None, json_path: str | None, split: str, documents: tuple[str, ...]) -> None:
    """Score answers on a question set against the ingested corpus.

    QUESTION_SET is YAML (default: tests/eval/questions.yaml) or JSON Lines with verbatim evidence (one question a
    line: question, doc or source_docs, evidence, supporting, follows, reference_answer "NOT IN CORPUS" when the
    documents do not answer). With evidence, a passage counts as a hit when it holds half the evidence's word
    5-grams; otherwise when it comes from an expected document.
    """
    from pathlib import Path

    from assistant import Assistant
    from assistant.evalset import load_question_set
    from assistant.evaluation import evaluate

    path = Path(question_set) if question_set else Path("tests/eval/questions.yaml")
    qs = load_question_set(path)
    settings = _settings()
    if documents:
        from ingest.pipeline import ingest_paths

        with _progress_bars(True) as progress:
            result = ingest_paths([Path(d) for d in documents], settings, on_progress=progress)
        click.echo(result.summary())
    assistant = Assistant(settings)
    with click.progressbar(length=len(qs.questions), label="asking", file=sys.stderr) as bar:
        done = [0]

        def advance(n: int, total: int) -> None:
            bar.length = total
            bar.update(n - done[0])
            done[0] = n

        report = evaluate(qs, assistant.ask, retrieved=lambda a: a.passages, split=split, progress=advance)
    click.echo(report.table())
    if json_path:
        import json

        Path(json_path).write_text(json.dumps(report.as_dict(), indent=2))
        click.echo(f"report written to {json_path}")


@main.command()
@click.option(
    "--sources", "sources_file", type=click.Path(dir_okay=False), default="corpus/sources.yaml", show_default=True,
    help="YAML file with a `documents:` list of {url, title, doc_type, published, publisher}.",
)
@click.option("--dest", type=click.Path(file_okay=False), help="Download folder [default: STORE_DIR/fetched].")
@click.option("--ingest", "then_ingest", is_flag=True, help="Ingest the download folder afterwards.")
@click.option("--user-agent", help="User-Agent header; include a contact email [env POLICYQA_FETCH_USER_AGENT].")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=30.0, show_default=True,
              help="Seconds one download attempt may take in all (connection, headers and body).")
@click.option("--retries", type=click.IntRange(min=0), default=3, show_default=True,
              help="Retries after connection errors, timeouts, 429 and 5xx.")
@click.option("--backoff", type=click.FloatRange(min=0), default=1.0, show_default=True,
              help="Seconds before the first retry; doubled for each further one.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bars.")
@click.pass_context
def fetch(
    ctx: click.Context, sources_file: str, dest: str | None, then_ingest: bool, user_agent: str | None,
    timeout: float, retries: int, backoff: float, quiet: bool,
) -> None:
    """Download the public documents listed in a sources file, with metadata sidecars; unchanged ones are skipped."""
    from pathlib import Path

    from ingest.fetch import fetch_sources

    settings = _settings()
    folder = Path(dest) if dest else settings.store_dir / "fetched"
    with _progress_bars(not quiet and sys.stderr.isatty()) as progress:
        report = fetch_sources(
            Path(sources_file), folder, user_agent=user_agent or settings.fetch_user_agent, timeout=timeout,
            retries=retries, backoff_s=backoff, max_mb=settings.max_file_mb, on_progress=progress,
        )
    colors = {"downloaded": "green", "failed": "red"}
    for o in report.outcomes:
        name = Path(o.path).name if o.path else o.url
        detail = o.message if o.status == "failed" else f"{name}{f' ({o.message})' if o.message else ''}"
        click.secho(f"{o.status:10} {detail}", fg=colors.get(o.status), err=o.status == "failed")
    click.echo(f"{report.summary()}; files in {folder}")
    if then_ingest:
        ctx.invoke(ingest, paths=(str(folder),), quiet=quiet)  # exits 1 itself when ingest fails
    if not report.ok:
        sys.exit(1)


@main.command()
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False), help="Also write the full table as CSV here.")
@click.option(
    "--llm", "llm_spec", is_flag=False, flag_value="", default=None, metavar="[ollama:MODEL|openai:MODEL]",
    help="Read the passages with a language model: the one named, else the configured one (POLICYQA_LLM). Every "
    "value must be stated in the sentence it quotes; the offline patterns stand in wherever the model fails.",
)
@click.option(
    "--evaluate", "expected_path", type=click.Path(exists=True, dir_okay=False),
    help="Print precision and recall against a hand-checked table (tests/eval/deals_expected.yaml) for the offline "
    "path, and for the LLM path with --llm, instead of the table.",
)
@click.option("--quiet", "-q", is_flag=True, help="No progress bar while the model reads.")
def deals(csv_path: str | None, llm_spec: str | None, expected_path: str | None, quiet: bool) -> None:
    """List the government–industry deals stated in the documents (stakes, loans, price floors...), with sources."""
    from pathlib import Path

    from assistant.deals import deals_csv, deals_table, extract_deals
    from assistant.deals_llm import run_deals
    from policyqa.store import open_store

    settings = _settings()
    if llm_spec is not None:
        settings = settings.with_overrides(llm=llm_spec or None)
        if not settings.llm:
            raise click.UsageError("--llm needs a model: --llm ollama:MODEL, or set POLICYQA_LLM")
    store = open_store(settings)
    try:
        if not store.documents():
            click.echo("no documents yet: run `policyqa ingest PATH`")
            return
        offline = extract_deals(store) if expected_path or llm_spec is None else None
        run = None
        if llm_spec is not None:
            with _progress_bars(not quiet and sys.stderr.isatty()) as progress:
                run = run_deals(store, settings, use_llm=True, on_progress=progress)
    finally:
        store.close()
    if expected_path:
        _print_deal_scores(Path(expected_path), offline or [], run, settings.llm)
        return
    found = run.deals if run is not None else offline or []
    if not found:
        click.echo("no deals found in the ingested documents")
    else:
        header = ("company", "instrument", "amount", "stake", "terms", "agency", "date", "source")
        keys = ("company", "instrument", "amount", "stake_percent", "terms", "agency", "date", "source")
        rows = [tuple(row[k] or "-" for k in keys) for row in deals_table(found)]
        widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header) - 1)]
        for row in [header, *rows]:
            click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=False)) + "  " + row[-1])
        click.echo(f"{len(found)} deals")
    _print_deal_run(run)
    if csv_path and found:
        Path(csv_path).write_text(deals_csv(found), encoding="utf-8")
        click.echo(f"CSV written to {csv_path}")


def _print_deal_run(run: DealRun | None) -> None:
    if run is None:
        click.secho("(read by the offline patterns)", dim=True)
        return
    for notice in run.notices:
        click.secho(f"note: {notice}", fg="yellow")
    if run.backend == "offline":
        click.secho("(read by the offline patterns)", dim=True)
    else:
        click.secho(f"(read by {run.backend}: {run.answered} of {run.passages} passages)", dim=True)


def _print_deal_scores(expected_path: Path, offline: list[Deal], run: DealRun | None, llm: str | None) -> None:
    from assistant.deals_eval import load_expected, score

    expected = load_expected(expected_path)
    results = [("offline", score(offline, expected))]
    if run is not None:
        results.append((f"LLM ({llm})", score(run.deals, expected)))
    for label, result in results:
        click.echo(result.line(label))
        for problem in result.problems:
            click.echo(f"  {problem}")
    if run is not None:
        for notice in run.notices:
            click.secho(f"note: {notice}", fg="yellow")


@main.command()
@click.option(
    "--csv", "csv_path", type=click.Path(dir_okay=False), help="Write the feedback as CSV here ('-' = stdout)."
)
def feedback(csv_path: str | None) -> None:
    """Thumbs up/down and comments given in the chat, one row per answer (the latest rating of each)."""
    from pathlib import Path

    from assistant.feedback import feedback_csv, feedback_path, latest_feedback

    store_dir = _settings().store_dir
    records = latest_feedback(store_dir)
    if csv_path:
        text = feedback_csv(records)
        if csv_path == "-":
            click.echo(text, nl=False)
            return
        Path(csv_path).write_text(text, encoding="utf-8")
        click.echo(f"{len(records)} answer(s) with feedback written to {csv_path}")
        return
    if not records:
        click.echo(f"no feedback yet ({feedback_path(store_dir)})")
        return
    for r in records:
        thumb = "up  " if r.get("rating") == 1 else "down"
        comment = f" — {r['comment']}" if r.get("comment") else ""
        click.echo(f"{str(r.get('at', ''))[:16]}  {thumb}  {r.get('question')}{comment}")
    click.echo(f"{len(records)} answer(s) rated; --csv FILE writes them all")


if __name__ == "__main__":  # pragma: no cover
    main()
