"""Markdown syntax: the parser configuration, math, code highlighting, images, and safe card HTML."""
