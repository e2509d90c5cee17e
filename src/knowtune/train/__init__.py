"""Training: trainer setup (TRL SFTTrainer + PEFT), methods, the run directory."""
