"""Retrieval: which tools a query needs (ToolRAG) and which solved examples to show the planner."""
