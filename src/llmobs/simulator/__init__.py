"""The synthetic LLM provider: an HTTP service that behaves like Ollama, vLLM, llama.cpp or the
OpenAI API, with the latency, throughput, cold loads and faults a YAML profile describes.

``profile`` reads the profile (its docstring is the schema), ``engine`` draws and schedules
requests, ``server`` speaks the APIs over ``httpd``, ``metrics`` writes vLLM's /metrics, and
``cli`` is the ``llmobs-simulator`` command.
"""
