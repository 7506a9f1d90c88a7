"""Planner and speech models: the registry (models.yaml), llama.cpp and OpenAI-compatible backends."""
