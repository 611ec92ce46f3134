"""How the backend's own fastembed names and finds models (asked, read, remembered)."""
