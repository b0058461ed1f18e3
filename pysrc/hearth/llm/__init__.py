"""The in-browser language model engine: tokenizer, chat template, sampling, generation."""
