"""Reports: terminal table (and later JSON/HTML)."""
