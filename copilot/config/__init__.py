"""The training run config: dataclass schemas of its top-level nodes and the validator that checks a composed
tree against them (copilot.config.schema, copilot.config.validation). Light: imports nothing heavy."""

from copilot.config.validation import ConfigError, validate_run_config

__all__ = ["ConfigError", "validate_run_config"]
