"""tinyagent: a local, Siri-like function-calling agent for the terminal."""

__version__ = "0.1.0"
