"""The terminal: the console every line goes through, and download progress."""
