"""HTTP APIs over the rails (FastAPI): each module builds one app; no rail imports this package."""
