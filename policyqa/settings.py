"""One settings object for every shell, read from ``POLICYQA_*`` variables and overridable per call."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_MODEL = "bundled:all-MiniLM-L6-v2"


class Settings(BaseSettings):
    """Every knob of the product; built once at an edge (CLI, app, test) and passed down."""

    model_config = SettingsConfigDict(env_prefix="POLICYQA_", frozen=True, extra="ignore")

    store_dir: Path = Field(
        default=Path(".policyqa"),
        description="Folder holding the embedded Chroma database, the lexical index and the document registry.",
    )
    collection: str = Field(
        default="policyqa", min_length=3, max_length=512, description="Chroma collection name (3-512 characters)."
    )
    chroma_url: str | None = Field(
        default=None,
        description="URL of a Chroma server (e.g. http://127.0.0.1:8000); unset = embedded persistent store.",
    )
    database_url: str | None = Field(
        default=None,
        repr=False,
        description="PostgreSQL URL (e.g. postgresql://user:pass@db:5432/policyqa) for the shared document registry, "
        "chunk texts and lexical index, so several app hosts can serve one Chroma server; unset = SQLite in store_dir.",
    )
    embedding_model: str = Field(
        default=DEFAULT_MODEL,
        description="A sentence-transformers model name or path; the default is the bundled all-MiniLM-L6-v2.",
    )
    embedding_backend: Literal["torch", "onnx", "onnx-int8"] = Field(
        default="onnx",
        description="'onnx' (the model exported to ONNX Runtime: the same vectors as torch, about 1.5x faster and "
        "half the memory), 'onnx-int8' (int8 weights: faster still, cosine about 0.99 to the float vectors) or "
        "'torch' (sentence-transformers). Exports are made on first use and cached in model_cache_dir; torch is "
        "used if that fails.",
    )
    model_cache_dir: Path | None = Field(
        default=None, description="Where ONNX exports are kept; default: the 'models' folder in store_dir."
    )
    embedding_batch_size: int = Field(default=64, ge=1, description="Texts per encode call.")
    chunk_tokens: int = Field(
        default=200, ge=32, description="Target word pieces per chunk (the model's own limit always applies)."
    )
    chunk_overlap_tokens: int = Field(default=40, ge=0, description="Word pieces carried over between chunks.")
    max_file_mb: float = Field(default=25.0, gt=0, description="Files larger than this are refused.")
    max_pdf_pages: int = Field(default=2000, ge=1, description="PDFs with more pages are refused.")
    parse_workers: int = Field(default=0, ge=0, description="Processes for PDF parsing; 0 = one per core.")
    pdf_engine: Literal["pdfium", "pypdf"] = Field(
        default="pdfium",
        description="PDF text extractor: 'pdfium' (pypdfium2, about 20x faster on filings) or 'pypdf' (pure Python).",
    )

    retrieval_k: int = Field(default=6, ge=1, description="Passages handed to the answerer.")
    candidate_k: int = Field(default=30, ge=1, description="Candidates fetched from each retriever before fusion.")
    rrf_k: int = Field(default=60, ge=1, description="Reciprocal-rank-fusion constant.")
    lexical_weight: float = Field(
        default=1.25, gt=0,
        description="Weight of the keyword (BM25) ranking in the fusion; the dense ranking weighs 1. 1.25 was fit on "
        "the tune halves (minerals-dev hit@1 0.62 -> 0.69; starter 0.91 -> 0.94).",
    )
    time_weight: float = Field(
        default=0.6, ge=0,
        description="Weight of the extra rankings restricted to the dates a question names ('in 2024'); 0.6 fit on "
        "the tune halves (1.0 let a 2024 publication outrank an undated report stating 2024 figures).",
    )
    follow_up_weight: float = Field(
        default=1.0, ge=0,
        description="Weight of the rankings for a follow-up as typed, beside those for its rewritten query (1.0 fit "
        "on the tune halves: starter follow-up hit@5 0.88 -> 1.00, minerals-dev unchanged).",
    )
    mmr_lambda: float = Field(
        default=0.7, ge=0, le=1, description="Relevance weight against word-overlap redundancy when passages are picked."
    )
    doc_penalty: float = Field(
        default=0.0, ge=0,
        description="Score taken off a passage per passage of its document already picked (0: none). 0.15 cost "
        "minerals-dev tune hit@5 0.92 -> 0.62: a document's second passage often holds the answer.",
    )
    reranker_model: str | None = Field(default=None, description="Cross-encoder model path; unset = no reranking.")
    answer_words: int = Field(default=120, ge=20, description="Length budget of an offline answer.")
    min_relevance: float = Field(
        default=0.35, description="Below this evidence score the offline answerer says the documents do not answer."
    )

    refusal_model: Path | None = Field(
        default=None,
        description="The refusal model's weights (JSON written by benchmarks/fit_refusal.py); unset = the one "
        "packaged, fit for the default embedding model. Refit it when you change the embedding model.",
    )

    llm: str | None = Field(default=None, description="'ollama:MODEL' or 'openai:MODEL'; unset = offline answers.")
    llm_base_url: str | None = Field(default=None, description="Base URL of the LLM server.")
    llm_api_key: str | None = Field(
        default=None, repr=False, description="API key for an OpenAI-compatible server (else OPENAI_API_KEY)."
    )
    llm_timeout_s: float = Field(default=60.0, gt=0, description="Seconds before an LLM call is abandoned.")
    max_upload_mb: float = Field(default=50.0, gt=0, description="Largest file the UI accepts.")
    fetch_user_agent: str = Field(
        default="policyqa/0.1 (set POLICYQA_FETCH_USER_AGENT to include a contact email)",
        min_length=1,
        description="User-Agent sent by `policyqa fetch`; SEC EDGAR refuses requests without a contact address in it.",
    )

    @field_validator("chroma_url", "database_url", "llm", "llm_base_url", "llm_api_key", "reranker_model", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    def with_overrides(self, **overrides: Any) -> Settings:
        """A validated copy with the given fields replaced; ``None`` values are ignored (flags not given)."""
        given = {k: v for k, v in overrides.items() if v is not None}
        if not given:
            return self
        return type(self).model_validate({**self.model_dump(), **given})

    @property
    def sqlite_path(self) -> Path:
        return self.store_dir / "policyqa.sqlite3"

    @property
    def uploads_dir(self) -> Path:
        return self.store_dir / "uploads"
