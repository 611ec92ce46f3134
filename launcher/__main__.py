"""`python -m launcher` runs the same CLI as the `robo-backend` console script."""

from launcher.cli import main

if __name__ == "__main__":
    main()
