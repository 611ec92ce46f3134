"""`robo-backend up`: the pipeline, how it is shown, and the early start of a warm run."""
