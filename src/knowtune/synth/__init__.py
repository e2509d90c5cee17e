"""From documents to a QA training set: `knowtune generate`.

- `run`: the pipeline (ingest, chunk, summaries, facts, persona Q&A, curation, split, report).
- `backends`: where replies come from (hf, vllm, an OpenAI-compatible server).
- `calls`: the on-disk cache of model calls, retries and progress.
- `parse`, `curate`, `output`: reading replies, deciding what is kept, writing the results.
"""
