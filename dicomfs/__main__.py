"""``python -m dicomfs``: the command line."""

from dicomfs.cli.main import main

if __name__ == "__main__":
    main()
