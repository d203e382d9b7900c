"""The web dashboard: one static page over the REST API, mounted beside it by `corridor up`.

The page is plain HTML, CSS and JavaScript modules served from this package (no build step, no framework, nothing
fetched from elsewhere), so a fresh clone serves it with nothing installed by hand and an offline machine shows it.
It reads the API with the observer key, which travels in the URL's fragment and never reaches a server log;
docs/dashboard.md describes each section and the in-browser proof verification.
"""

from __future__ import annotations

from corridor.web.app import STATIC_DIR, mount

__all__ = ["STATIC_DIR", "mount"]
