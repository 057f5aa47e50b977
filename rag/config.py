"""The one typed settings tree: environment `RAG_*` over `rag.toml` over the defaults below.

Nothing else in the package reads the environment; every component takes a `Settings`.
"""

from __future__ import annotations

import difflib
import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from rag.backends import BACKENDS, backend_names
from rag.errors import ConfigError

# RAG_* variables read by the tests and benchmarks, not by rag
NOT_SETTINGS = frozenset({"RAG_BBC_CORPUS", "RAG_TEST_WITHOUT_MODEL"})


class Settings(BaseSettings):
    """Every knob of rag, each with its description; `rag info` prints the effective values."""

    model_config = SettingsConfigDict(
        env_prefix="RAG_", toml_file="rag.toml", extra="ignore", frozen=True, validate_default=True
    )

    # documents and index
    docs_dir: Path = Field(Path("seeds"), description="Folder of documents to index (searched recursively).")
    index_dir: Path = Field(Path("index"), description="Folder holding the persisted index (Chroma + BM25).")
    chroma_url: str | None = Field(
        None, description="URL of a Chroma server (e.g. http://127.0.0.1:8000); unset = embedded index_dir."
    )
    chroma_timeout: float = Field(
        30.0, gt=0, description="Seconds before a request to the Chroma server is given up (one-line error).")
    health_timeout: float = Field(3.0, gt=0, description="Seconds the health checks of `rag info` and the UI wait.")
    collection_prefix: str = Field("rag", description="Prefix of the Chroma collections this index uses.")
    index_lock_lease: float = Field(
        30.0, gt=0, description="Chroma-server mode: seconds the indexing lock (a record in the server) lasts "
                                "unless its holder renews it (every third of this); a killed indexer's lock "
                                "expires after it.")

    # embedding and chunking
    embed_model: str = Field(
        "", description="sentence-transformers model path; empty = the packaged all-MiniLM-L6-v2."
    )
    embed_batch_size: int = Field(64, ge=1, description="Chunks encoded per embedding batch.")
    embed_backend: Literal["onnx", "torch"] = Field(
        "onnx", description="Engine for questions and answer sentences: onnx (ONNX Runtime; the model is exported "
                            "once into model_cache; same vectors, about 1.5x faster) or torch. Indexing uses torch.")
    model_cache: Path = Field(Path("~/.cache/rag"), description="Folder for the embedding model exported to ONNX.")
    sentence_vectors: bool = Field(
        False, description="Also embed every sentence at index time and store it with its chunk: about twice "
                           "the indexing time and 0.8 KB per sentence, for first-time answers about 100 ms faster "
                           "(same answers). Run `rag index --rebuild` after turning it on.")
    embed_api_url: str | None = Field(
        None, description="Base URL of an OpenAI-compatible embeddings server (TEI, vLLM, Ollama: http://host:port/v1; "
                          "Infinity: http://host:port); texts are sent to <url>/embeddings instead of loading the "
                          "model here. Unset = the in-process model (embed_model).")
    embed_api_model: str = Field("", description="Model name sent to the embeddings server; empty = its default.")
    embed_api_key: SecretStr = Field(SecretStr(""), description="API key for the embeddings server (empty = none).")
    embed_api_batch_size: int = Field(64, ge=1, description="Texts per request to the embeddings server.")
    embed_api_timeout: float = Field(60.0, gt=0, description="Seconds before an embeddings request is given up.")
    embed_api_retries: int = Field(2, ge=0, description="Retries of a failed embeddings request (no answer, 429, 5xx).")
    embed_api_concurrency: int = Field(4, ge=1, description="Embeddings requests in flight at once.")
    chunk_size: int = Field(800, ge=100, description="Largest chunk, in characters (sentence-aligned).")
    chunk_overlap: int = Field(150, ge=0, description="Characters of trailing sentences repeated.")
    index_workers: int = Field(
        0, ge=0, le=64, description="Processes that load and chunk documents while the indexer embeds and writes; "
                                    "0 = all in the indexing process (measured best on 2 cores, bench/RESULTS.md).")
    max_file_mb: float = Field(100.0, gt=0, description="Files larger than this are skipped when indexing.")
    file_seconds: float = Field(
        60.0, gt=0, description="Longest a PDF or office file may take to read (in a worker process); skipped past it.")
    pdf_max_pages: int = Field(2000, ge=1, description="PDFs with more pages are skipped.")
    pdf_max_content_mb: float = Field(
        50.0, gt=0, description="Most decompressed page content a PDF may have, all pages together; skipped past it.")
    follow_outside_links: bool = Field(
        False, description="Follow symbolic links in the documents folder that lead outside it (off: such a link "
                           "is skipped with one line).")

    # retrieval
    top_k: int = Field(5, ge=1, le=50, description="Chunks retrieved for an answer.")
    candidates: int = Field(30, ge=1, description="Candidates taken from each of dense and BM25 before fusion.")
    rrf_k: int = Field(60, ge=1, description="Reciprocal-rank-fusion constant.")
    phrase_weight: float = Field(
        1.0, ge=0, le=5, description="Weight in the fusion of a third ranking: the BM25 candidates holding the "
                                     "question's adjacent word pairs (a name: 'Jonathan Rosenberg'), pairs few "
                                     "candidates hold first; 0 = off. It and document_weight choose which top_k chunks "
                                     "come back, handed on in plain-fusion order. Chosen on the training question "
                                     "sets by bench/tune_recall.py.")
    document_weight: float = Field(
        5.0, ge=0, le=5, description="Share of the best fused score of a candidate's document added to its own, so the "
                                     "other chunks of a well-matched article (a quote below the lead) come back before "
                                     "weak chunks of other articles; 0 = off. Chosen like phrase_weight.")

    # extractive answering
    extractive_scorer: Literal["auto", "fitted", "rules"] = Field(
        "auto", description="How the extractive answerer picks sentences and abstains: rules (the hand-set "
                            "weights of rag.qa), fitted (logistic regressions fitted to labelled questions, "
                            "rag/scorer.json) or auto: fitted for a question that first gives context (two or more "
                            "sentences: 'The Brits were held on Wednesday. Which band ...?'), rules otherwise. Out "
                            "of fold on the training sets such questions pass 0.64 fitted against 0.15 with the "
                            "rules; for one-sentence questions the rules keep the seed gate (bench/compare.md).")
    answer_threshold: float | None = Field(
        None, ge=0, le=1, description="Fitted scorer: probability that the answer holds below which it says 'The "
                                      "documents do not say'; unset = the threshold chosen by cross-validation.")
    abstain_threshold: float = Field(
        0.45, description="Rules scorer: best sentence score below which the answer is 'The documents do not say'."
    )
    unseen_word_penalty: float = Field(
        0.15, ge=0, description="Raise of the abstain threshold for each question word no chunk uses (large "
                                "collections only): such a word names something the documents do not cover.")
    unseen_word_min_chunks: int = Field(
        2000, ge=1, description="Smallest collection (in chunks) where unseen question words count against "
                                "answering; in a small one they are usually just paraphrase.")
    neighbour_chunks: int = Field(
        1, ge=0, le=5, description="Fitted scorer: chunks on each side of a retrieved chunk of the top two documents "
                                   "that the extractive answerer reads too (0: only the retrieved chunks).")
    max_answer_sentences: int = Field(3, ge=1, description="Most sentences quoted in an extractive answer.")
    max_question_chars: int = Field(2000, ge=10, description="Longer questions are cut, with a notice.")

    # LLM answering
    llm: str = Field("extractive", description=f"Answerer: {backend_names()} (see rag/backends.py).")
    llm_base_url: str = Field(
        "http://127.0.0.1:8000/v1", description="Base URL of an OpenAI-compatible server (openai backend)."
    )
    llm_model: str = Field("", description="Model name (openai/ollama) as the server knows it.")
    llm_api_key: SecretStr = Field(SecretStr("not-needed"), description="API key for the openai backend.")
    llm_timeout: float = Field(60.0, gt=0, description="Seconds before an LLM request is given up.")
    llm_retries: int = Field(1, ge=0, description="Retries of a failed LLM request.")
    llm_temperature: float = Field(0.0, ge=0, description="Sampling temperature of the LLM.")
    llm_max_tokens: int = Field(512, ge=16, description="Most tokens an LLM answer may have.")
    ollama_host: str = Field("http://127.0.0.1:11434", description="Ollama server (ollama backend).")
    llamacpp_model_path: Path | None = Field(None, description="GGUF file for the llamacpp backend.")
    llamacpp_n_ctx: int = Field(4096, ge=512, description="Context window of the llamacpp backend.")

    # web UI
    ui_host: str = Field("127.0.0.1", description="Address the web UI listens on.")
    ui_port: int = Field(7860, ge=0, le=65535, description="Port of the web UI.")
    ui_username: str | None = Field(
        None, description="With ui_password set, the UI requires login; one without the other refuses to start.")
    ui_password: SecretStr | None = Field(None, description="Password for the UI login (not blank).")
    ui_open_documents: bool = Field(
        False, description="Let anyone who can reach the web UI add, remove and rebuild documents without a login "
                           "(a machine only you use); off, these need ui_username and ui_password.")
    upload_max_mb: float = Field(20.0, gt=0, description="Largest file the UI accepts for upload.")
    evals_dir: Path = Field(Path("evals"), description="Folder of evaluation question sets.")

    @field_validator("llm")
    @classmethod
    def _known_answerer(cls, value: str) -> str:
        if value not in BACKENDS:
            raise ValueError(f"unknown answerer {value!r}: use {backend_names()}")
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls))

    @field_validator("ui_username", "ui_password", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: Any) -> Any:
        raw = value.get_secret_value() if isinstance(value, SecretStr) else value
        return None if isinstance(raw, str) and not raw.strip() else value

    @model_validator(mode="before")
    @classmethod
    def _known_keys(cls, data: Any) -> Any:
        """Unknown keys (a misspelt `rag.toml` key, an unknown RAG_* variable) are errors, not ignored."""
        if isinstance(data, dict):
            unknown = [(key, "rag.toml" if Path("rag.toml").exists() else "the settings")
                       for key in data if key not in cls.model_fields]
            unknown += [(name.removeprefix("RAG_").lower(), name) for name in os.environ
                        if name.upper().startswith("RAG_") and name.upper() not in NOT_SETTINGS
                        and name[4:].lower() not in cls.model_fields]
            if unknown:
                key, where = unknown[0]
                near = difflib.get_close_matches(key, list(cls.model_fields), n=1)
                hint = f"; did you mean {near[0]}?" if near else " (`rag info` lists every setting)"
                raise ValueError(f"unknown setting {key!r} in {where}{hint}")
        return data

    @model_validator(mode="after")
    def _login_whole(self) -> Settings:
        """A username without a password (or the reverse) would silently serve the UI without login."""
        if (self.ui_username is None) != (self.ui_password is None):
            given, missing = ("ui_username", "ui_password") if self.ui_username else ("ui_password", "ui_username")
            raise ValueError(f"{given} is set but {missing} is not (or is blank): set both for a login, "
                             "or neither for none")
        return self

    def public_items(self) -> list[tuple[str, str, str]]:
        """(name, value, description) for display; secrets are masked."""
        rows = []
        for name, field in type(self).model_fields.items():
            value = getattr(self, name)
            shown = "***" if isinstance(value, SecretStr) else str(value)
            rows.append((name, shown, field.description or ""))
        return rows


def read_settings(**values: Any) -> Settings:
    """Settings(**values), with every problem (a bad value, an unknown key, a rag.toml that is not TOML
    or not UTF-8) raised as a one-line ConfigError."""
    try:
        return Settings(**values)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(map(str, err["loc"]))
        message = str(err["msg"]).removeprefix("Value error, ")
        raise ConfigError(f"bad setting {where}: {message}" if where else message) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"rag.toml cannot be read: {str(exc).splitlines()[0][:160]}") from None
