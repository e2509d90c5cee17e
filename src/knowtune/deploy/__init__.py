"""Use a tuned model outside knowtune: export (merged, GGUF, Ollama), chat, serve; each checked on its questions."""
