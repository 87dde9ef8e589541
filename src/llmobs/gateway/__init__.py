"""The gateway side: the per-request log our LiteLLM callback writes, and its schema."""
