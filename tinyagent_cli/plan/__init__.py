"""Plans: the LLMCompiler text format, its parser, the DAG executor and the join."""
