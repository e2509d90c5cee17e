"""Evaluations that show what a fine-tune changed.

- `qa_metrics`: exact match, token F1 and containment for English and CJK answers.
- `generate`: batched greedy chat generation, shared by every generation-based evaluation.
- `qa_check`: closed-book QA accuracy of a model on a question/answer JSONL file.
"""
