"""Where replies come from: transformers in-process (`hf`), vLLM in-process, or an OpenAI-compatible server.

A backend turns a list of chat conversations into replies and yields each as soon as it is done,
with its index, so that the caller can save it at once (a killed run keeps it). A request that
fails is yielded as a `Failure` naming why; it is not cached, so the next attempt or the next run
sends it again. A failure that would repeat for every request (a wrong key, an unknown model, a
server that cannot be reached) ends the run with a `UserError` instead.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import NamedTuple, Protocol

from knowtune.errors import UserError, missing_extra
from knowtune.synth.config import GenerateConfig

Messages = list[dict[str, str]]


class Failure(NamedTuple):
    reason: str


class Backend(Protocol):
    identity: dict  # model and sampling settings: part of every cache key

    def generate(self, requests: list[Messages], max_new_tokens: int) -> Iterator[tuple[int, str | Failure]]: ...


class HFBackend:
    """transformers, batched: prompts sorted by length, left padded, a batch at a time."""

    def __init__(self, model_name: str, batch_size: int, temperature: float):
        import torch

        from knowtune.models import load_model, load_tokenizer, resolve_model

        path = resolve_model(model_name)
        self.tokenizer = load_tokenizer(path)
        if not self.tokenizer.chat_template:
            raise UserError(f"model '{model_name}' has no chat template; use an instruction-tuned (chat) model")
        self.model = load_model(path).to("cuda" if torch.cuda.is_available() else "cpu")
        self.batch_size, self.temperature = batch_size, temperature
        self.identity = {"backend": "hf", "model": model_name, "temperature": temperature}

    def generate(self, requests: list[Messages], max_new_tokens: int) -> Iterator[tuple[int, str | Failure]]:
        from knowtune.models.generate import generate_batches

        batches = generate_batches(
            self.model, self.tokenizer, requests, self.batch_size, max_new_tokens,
            temperature=self.temperature, shrink_on_oom=True,
        )
        for indices, replies, used in batches:
            self.batch_size = used  # a size that ran out of memory once would for the next stage too
            yield from zip(indices, replies)


class VLLMBackend:
    """vLLM in-process: the whole list goes to the engine, which schedules it itself."""

    def __init__(self, model_name: str, temperature: float):
        try:
            import vllm
        except ImportError:
            raise missing_extra("vllm", "vllm") from None
        from knowtune.models import resolve_model

        self.llm = vllm.LLM(model=resolve_model(model_name))
        self.sampling = vllm.SamplingParams
        self.temperature = temperature
        self.identity = {"backend": "vllm", "model": model_name, "temperature": temperature}

    def generate(self, requests: list[Messages], max_new_tokens: int) -> Iterator[tuple[int, str | Failure]]:
        params = self.sampling(temperature=self.temperature, max_tokens=max_new_tokens)
        for index, output in enumerate(self.llm.chat(requests, params, use_tqdm=False)):
            yield index, output.outputs[0].text.strip()


class OpenAIBackend:
    """Any OpenAI-compatible server, through the official client (its retries and backoff), concurrently."""

    def __init__(self, model_name: str, cfg: GenerateConfig):
        import openai

        settings = cfg.backend
        self._key = os.environ.get(settings.api_key_env) or None
        if self._key is None and settings.base_url is None and not os.environ.get("OPENAI_BASE_URL"):
            raise UserError(
                f"model_type=openai: set ${settings.api_key_env} to your API key, "
                "or backend.base_url to a local server that needs none"
            )
        self.where = settings.base_url or os.environ.get("OPENAI_BASE_URL") or "the OpenAI API"
        # Local servers ignore the key, but the client refuses to start without one.
        self.client = openai.OpenAI(
            api_key=self._key or "unused", base_url=settings.base_url,
            timeout=settings.timeout_s, max_retries=settings.max_retries,
        )
        self.model, self.temperature, self.concurrency = model_name, settings.temperature, settings.concurrency
        self.timeout_s = settings.timeout_s
        self.identity = {"backend": "openai", "model": model_name, "temperature": settings.temperature}

    def _complete(self, messages: Messages, max_new_tokens: int) -> str:
        response = self.client.chat.completions.create(
            model=self.model, messages=messages, max_tokens=max_new_tokens, temperature=self.temperature
        )
        try:
            content = response.choices[0].message.content
        except (AttributeError, IndexError, TypeError):  # a body of the wrong shape: a list, a string, no choices
            content = None
        if not isinstance(content, str):
            raise ValueError("the reply has no message content")
        return content.strip()

    def generate(self, requests: list[Messages], max_new_tokens: int) -> Iterator[tuple[int, str | Failure]]:
        import openai

        fatal = (openai.AuthenticationError, openai.PermissionDeniedError, openai.NotFoundError)
        with ThreadPoolExecutor(self.concurrency) as pool:
            futures = {pool.submit(self._complete, m, max_new_tokens): i for i, m in enumerate(requests)}
            try:
                for future in as_completed(futures):
                    try:
                        yield futures[future], future.result()
                    except fatal as e:
                        raise UserError(f"{self.where} refused model '{self.model}': {self._describe(e)}") from None
                    except openai.APITimeoutError:
                        yield futures[future], Failure(f"no reply within {self.timeout_s:g} s, after retries")
                    except openai.APIConnectionError as e:
                        raise UserError(f"cannot reach {self.where}: {self._describe(e)}") from None
                    except (openai.APIError, json.JSONDecodeError, ValueError) as e:
                        yield futures[future], Failure(self._describe(e))
            finally:
                pool.shutdown(cancel_futures=True)

    def _describe(self, error: Exception) -> str:
        import openai

        if isinstance(error, openai.APIStatusError):
            text = f"HTTP {error.status_code}: " + re.sub(r"^Error code: \d+ - ", "", error.message)
        elif isinstance(error, json.JSONDecodeError):
            text = f"malformed reply (not JSON: {error.msg})"
        else:
            text = str(error) or type(error).__name__
        text = text.splitlines()[0] if text.strip() else type(error).__name__
        # Servers sometimes echo the key in an error; it must not reach a log or the report.
        return text.replace(self._key, "***") if self._key else text


def make_backend(cfg: GenerateConfig) -> Backend:
    if cfg.model_type == "hf":
        return HFBackend(cfg.model_name_or_path, cfg.backend.batch_size, cfg.backend.temperature)
    if cfg.model_type == "vllm":
        return VLLMBackend(cfg.model_name_or_path, cfg.backend.temperature)
    return OpenAIBackend(cfg.model_name_or_path, cfg)
