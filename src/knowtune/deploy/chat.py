"""`knowtune chat`: talk to a tuned model in the terminal, its reply streamed token by token.

The model's own chat template renders the conversation (history included) as in training.
`/reset` forgets the history, `/exit`, Ctrl-D (closed stdin) or Ctrl-C end the chat cleanly; Ctrl-C
during a reply stops the generation thread before exiting. `--compare-base` asks the base model
each message too (an adapter is switched off for it, so no second model loads), each keeping its own
history, and prints its reply above the tuned model's.
"""

from __future__ import annotations

import contextlib
import sys
import threading

from knowtune.deploy.source import load_base, load_source, resolve_source

HELP = "/reset clears the history, /exit or Ctrl-D ends"


class _Stop:
    """A stopping criterion the main thread sets when the user presses Ctrl-C mid-reply."""

    def __init__(self):
        self.event = threading.Event()

    def __call__(self, input_ids, scores, **kwargs):
        import torch

        return torch.full((input_ids.shape[0],), self.event.is_set(), dtype=torch.bool)


def stream_reply(model, tokenizer, messages: list[dict], max_new_tokens: int, out=sys.stdout) -> str:
    """Generate greedily in a thread, printing tokens as they come; return the whole reply."""
    from transformers import StoppingCriteriaList, TextIteratorStreamer

    text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    inputs = tokenizer(text, add_special_tokens=False, return_tensors="pt").to(model.device)
    streamer = TextIteratorStreamer(tokenizer, skip_prompt=True, skip_special_tokens=True)
    stop = _Stop()
    kwargs = dict(**inputs, max_new_tokens=max_new_tokens, do_sample=False, streamer=streamer,
                  eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
                  stopping_criteria=StoppingCriteriaList([stop]))
    worker = threading.Thread(target=model.generate, kwargs=kwargs, daemon=True)
    worker.start()
    pieces = []
    try:
        for piece in streamer:
            pieces.append(piece)
            out.write(piece)
            out.flush()
    finally:
        stop.event.set()  # a Ctrl-C above lands here: the thread ends at its next token
        worker.join()
    out.write("\n")
    return "".join(pieces).strip()


def chat_loop(tuned, base, tokenizer, system_prompt: str | None, max_new_tokens: int) -> None:
    """`tuned` and `base` are callables (messages -> context manager yielding a model); base may be None."""
    start = [{"role": "system", "content": system_prompt}] if system_prompt else []
    histories = {"tuned": list(start), "base": list(start)}
    print(f"({HELP})", flush=True)
    while True:
        try:
            line = input("you> ").strip()
        except EOFError:
            print()
            return
        if line == "/exit":
            return
        if line == "/reset":
            histories = {"tuned": list(start), "base": list(start)}
            print("(history cleared)", flush=True)
            continue
        if not line:
            continue
        for label, enter in (("base", base), ("tuned", tuned)):
            if enter is None:
                continue
            history = histories[label]
            history.append({"role": "user", "content": line})
            print(f"{label}> ", end="", flush=True)
            with enter() as model:
                history.append({"role": "assistant", "content": stream_reply(model, tokenizer, history, max_new_tokens)})


def run_chat(path: str, compare_base: bool = False, max_new_tokens: int = 256) -> None:
    source = resolve_source(path)
    model, tokenizer = load_source(source) if not (compare_base and source.adapter) else _unmerged(source)
    model.eval()
    tuned, base = (lambda: contextlib.nullcontext(model)), None
    if compare_base and source.adapter:
        base = lambda: _adapter_off(model)  # noqa: E731
    elif compare_base:
        base_model = load_base(source)[0].eval()
        base = lambda: contextlib.nullcontext(base_model)  # noqa: E731
    print(f"Chatting with {source.model_dir}" + (f" (and its base {source.base})" if compare_base else ""))
    try:
        chat_loop(tuned, base, tokenizer, source.system_prompt, max_new_tokens)
    except KeyboardInterrupt:
        print("\n(interrupted)")


def _unmerged(source):
    """The adapter kept apart from its base, so that --compare-base can switch it off."""
    from knowtune.models import load_trained

    return load_trained(source.model_dir, base_model=source.base, merge=False)


@contextlib.contextmanager
def _adapter_off(peft_model):
    with peft_model.disable_adapter():
        yield peft_model
