"""Anki's side: flashmark's note types and the .apkg package."""
