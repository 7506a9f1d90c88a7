"""`tinyagent train`: a LoRA adapter that teaches a base GGUF model to write our plans.

Needs the optional ``train`` extra (torch, transformers, peft, gguf); the agent never
imports this package at run time, where the adapter is applied by llama.cpp alone.

    data.py    each solved query becomes the prompt the planner will really see for it
               (the tools ToolRAG selects out of fold) and the plan it should write
    lora.py    the base model from its GGUF, LoRA on the attention and MLP projections,
               loss on the plan tokens only, checkpoints and resume
    export.py  the adapter as a GGUF LoRA file, with what it was made from in its metadata
"""
