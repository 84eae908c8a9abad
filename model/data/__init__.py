"""Data: source adapters, regions, ingest, the region × period panel and its features."""
