"""System-versioning: the catalog of table shapes over time, history tables and triggers."""
