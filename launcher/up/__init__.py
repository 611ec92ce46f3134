"""`robo-backend up`: the pipeline, its display, the early start, the background model work."""
