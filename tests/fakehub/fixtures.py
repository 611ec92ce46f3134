"""pytest fixtures of the loopback fake Hugging Face hub (filled in by the fakehub work)."""
