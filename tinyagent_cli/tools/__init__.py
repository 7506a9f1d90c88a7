"""Toolpacks and the backends that implement their tools."""
