"""The chat models behind LLM answering: one builder per backend of `rag.backends.BACKENDS`.

- `extractive` (default): no LLM at all; `get_chat_model` is not called for it.
- `openai`: any OpenAI-compatible server (vLLM, llama.cpp's server, LM Studio, OpenAI itself) via
  `langchain-openai`: `llm_base_url`, `llm_model`, `llm_api_key`, `llm_timeout`, `llm_retries`.
- `ollama`: an Ollama server via `langchain-ollama`: `ollama_host`, `llm_model`, `llm_timeout`.
- `llamacpp`: a local GGUF file through `llama-cpp-python` (`pip install -e .[llamacpp]`), wrapped in
  the small `ChatLlamaCpp` below: `llamacpp_model_path`, `llamacpp_n_ctx`.

Each model carries its display name (`model.name`, e.g. "openai:Qwen2.5-7B") and, in its metadata,
where it runs (`rag_where`, e.g. "openai at http://127.0.0.1:8000/v1") for error notices. Heavy
imports happen only when a backend is built or first used.
"""

from __future__ import annotations

import importlib.util
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import PrivateAttr

from rag.backends import BACKENDS, describe, where
from rag.config import Settings
from rag.errors import ConfigError

_ROLES = {"system": "system", "human": "user", "ai": "assistant", "tool": "tool"}


def get_chat_model(settings: Settings) -> BaseChatModel:
    """The LangChain chat model for `settings.llm` (built as `rag.backends.BACKENDS` says); ConfigError
    (one line) when it cannot be built."""
    build = BACKENDS[settings.llm].build if settings.llm in BACKENDS else None
    if build is None:
        llms = [name for name, b in BACKENDS.items() if b.build is not None]
        raise ConfigError(f"no chat model for llm={settings.llm!r} (use {', '.join(llms)})")
    return build(settings)


def _named(settings: Settings) -> dict[str, Any]:
    return {"name": describe(settings), "metadata": {"rag_where": where(settings)}}


def _need_model_name(settings: Settings) -> str:
    if not settings.llm_model:
        raise ConfigError(f"the {settings.llm} backend needs a model name: --model NAME or RAG_LLM_MODEL")
    return settings.llm_model


def openai_chat(settings: Settings) -> BaseChatModel:
    from langchain_openai import ChatOpenAI

    # langchain-openai sends `max_completion_tokens`; servers other than OpenAI's (llama.cpp's,
    # LM Studio, older vLLM) only read `max_tokens`, so it is sent to them as well.
    extra = {} if "api.openai.com" in settings.llm_base_url else {"max_tokens": settings.llm_max_tokens}
    return ChatOpenAI(base_url=settings.llm_base_url, model=_need_model_name(settings),
                      api_key=settings.llm_api_key, timeout=settings.llm_timeout,
                      max_retries=settings.llm_retries, temperature=settings.llm_temperature,
                      max_completion_tokens=settings.llm_max_tokens, extra_body=extra or None,
                      streaming=True, **_named(settings))


def ollama_chat(settings: Settings) -> BaseChatModel:
    from langchain_ollama import ChatOllama

    return ChatOllama(base_url=settings.ollama_host, model=_need_model_name(settings),
                      temperature=settings.llm_temperature, num_predict=settings.llm_max_tokens,
                      client_kwargs={"timeout": settings.llm_timeout}, **_named(settings))


def llamacpp_chat(settings: Settings) -> BaseChatModel:
    path = settings.llamacpp_model_path
    if path is None:
        raise ConfigError("the llamacpp backend needs a GGUF file: set RAG_LLAMACPP_MODEL_PATH")
    if not Path(path).expanduser().is_file():
        raise ConfigError(f"GGUF file not found: {path}")
    if importlib.util.find_spec("llama_cpp") is None:
        raise ConfigError("llama-cpp-python is not installed: pip install -e '.[llamacpp]'")
    return ChatLlamaCpp(model_path=str(Path(path).expanduser()), n_ctx=settings.llamacpp_n_ctx,
                        temperature=settings.llm_temperature, max_tokens=settings.llm_max_tokens,
                        **_named(settings))


class ChatLlamaCpp(BaseChatModel):
    """A GGUF model run in-process by llama-cpp-python, as a LangChain chat model (with streaming).

    The model loads on first use; calls are serialised by a lock (a `Llama` is not thread-safe).
    """

    model_path: str
    n_ctx: int = 4096
    temperature: float = 0.0
    max_tokens: int = 512
    _llama: Any = PrivateAttr(default=None)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    @property
    def _llm_type(self) -> str:
        return "llamacpp"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model_path": self.model_path, "n_ctx": self.n_ctx}

    def _model(self) -> Any:
        if self._llama is None:
            from llama_cpp import Llama

            self._llama = Llama(model_path=self.model_path, n_ctx=self.n_ctx, verbose=False)
        return self._llama

    def _request(self, messages: list[BaseMessage], stop: list[str] | None, stream: bool) -> dict[str, Any]:
        chat = [{"role": _ROLES.get(m.type, "user"), "content": m.text} for m in messages]
        return {"messages": chat, "temperature": self.temperature, "max_tokens": self.max_tokens,
                "stop": stop or [], "stream": stream}

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                  run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any) -> ChatResult:
        with self._lock:
            out = self._model().create_chat_completion(**self._request(messages, stop, False))
        text = out["choices"][0]["message"].get("content") or ""
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=text))])

    def _stream(self, messages: list[BaseMessage], stop: list[str] | None = None,
                run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any
                ) -> Iterator[ChatGenerationChunk]:
        with self._lock:
            for part in self._model().create_chat_completion(**self._request(messages, stop, True)):
                delta = part["choices"][0]["delta"].get("content")
                if not delta:
                    continue
                chunk = ChatGenerationChunk(message=AIMessageChunk(content=delta))
                if run_manager:
                    run_manager.on_llm_new_token(delta, chunk=chunk)
                yield chunk
