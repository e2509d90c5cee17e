"""An Ollama Modelfile whose TEMPLATE and stop strings are the model's own chat template.

Ollama does not run Jinja, so the template is rebuilt in Go-template form from what the Jinja
template writes around each role: it is rendered with marker contents, one message at a time, and
the text around each marker is that role's prefix and suffix. A default system prompt the template
inserts by itself becomes the Modelfile's SYSTEM. `ChatPieces.render` builds a prompt as the Go
template will, so the export check asks the GGUF through exactly the prompt Ollama sends.
"""

from __future__ import annotations

from dataclasses import dataclass

from knowtune.errors import UserError

_MARK = {"system": "\x01SYSTEM\x01", "user": "\x01USER\x01", "assistant": "\x01ASSISTANT\x01"}


@dataclass(frozen=True)
class ChatPieces:
    wrap: dict[str, tuple[str, str]]  # role -> (prefix, suffix)
    generation_prompt: str  # what opens the assistant's turn
    default_system: str | None  # the system prompt the template adds when none is given
    stop: list[str]

    def render(self, messages: list[dict]) -> str:
        if self.default_system is not None and messages[0]["role"] != "system":
            messages = [{"role": "system", "content": self.default_system}, *messages]
        text = "".join(self.wrap[m["role"]][0] + m["content"] + self.wrap[m["role"]][1] for m in messages)
        return text + self.generation_prompt


def _split(block: str, role: str, template_name: str) -> tuple[str, str]:
    if block.count(_MARK[role]) != 1:
        raise UserError(f"{template_name}: the chat template does not write a {role} message once, as Ollama's TEMPLATE needs")
    prefix, suffix = block.split(_MARK[role])
    return prefix, suffix


def chat_pieces(tokenizer, template_name: str = "chat template") -> ChatPieces:
    """Each role's prefix and suffix, the generation prompt and any default system prompt of `tokenizer`."""
    if not tokenizer.chat_template:
        raise UserError(f"{template_name}: the tokenizer has no chat template; Ollama would not know the turn format")

    def render(roles, generation=False):
        messages = [{"role": r, "content": _MARK[r]} for r in roles]
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=generation)

    with_system = render(["system"])
    convo = render(["system", "user"])
    full = render(["system", "user", "assistant"])
    # A tokenizer that adds the BOS token itself has it added by the runtime too (llama.cpp reads add_bos from
    # the GGUF); the template's own copy, written as text, would double it.
    bos, ids = tokenizer.bos_token, tokenizer("x")["input_ids"]
    start = bos if bos and ids and ids[0] == tokenizer.bos_token_id and with_system.startswith(bos) else ""
    wrap = {
        "system": _split(with_system[len(start):], "system", template_name),
        "user": _split(convo[len(with_system):], "user", template_name),
        "assistant": _split(full[len(convo):], "assistant", template_name),
    }
    generation_prompt = render(["system", "user"], generation=True)[len(convo):]
    alone = render(["user"])[len(start):]
    before_user = alone[: max(alone.find(wrap["user"][0] + _MARK["user"]), 0)]
    default_system = None
    sys_prefix, sys_suffix = wrap["system"]
    if before_user and before_user.startswith(sys_prefix) and before_user.endswith(sys_suffix):
        default_system = before_user[len(sys_prefix): len(before_user) - len(sys_suffix)]
    stop = [s for s in dict.fromkeys([wrap["assistant"][1].strip(), wrap["user"][0].strip()]) if s]
    for piece in [generation_prompt, *(p for pair in wrap.values() for p in pair)]:
        if "{{" in piece or '"""' in piece:
            raise UserError(f"{template_name}: a turn marker holds '{{{{' or '\"\"\"', which a Modelfile cannot quote")
    return ChatPieces(wrap, generation_prompt, default_system, stop)


def modelfile(gguf_name: str, pieces: ChatPieces) -> str:
    """The Modelfile text: FROM the GGUF beside it, TEMPLATE over .Messages, SYSTEM, stop parameters."""
    branches = "".join(
        f'{{{{ {"if" if i == 0 else "else if"} eq .Role "{role}" }}}}{prefix}{{{{ .Content }}}}{suffix}'
        for i, (role, (prefix, suffix)) in enumerate(pieces.wrap.items())
    )
    template = f"{{{{ range .Messages }}}}{branches}{{{{ end }}}}{{{{ end }}}}{pieces.generation_prompt}"
    lines = [f"FROM ./{gguf_name}", f'TEMPLATE """{template}"""']
    if pieces.default_system is not None:
        lines.append(f'SYSTEM """{pieces.default_system}"""')
    lines += [f'PARAMETER stop "{s}"' for s in pieces.stop]
    return "\n".join(lines) + "\n"
