"""Start the chat: `python app.py [--host H] [--port P]` (indexes seeds/ on first run)."""

import sys

from qa.cli import main

if __name__ == "__main__":
    sys.exit(main(["serve", *sys.argv[1:]]))
