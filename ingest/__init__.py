"""Ingestion: turn policy documents on disk into cited, searchable chunks."""
