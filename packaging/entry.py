"""The frozen bundle's entry script: the same dispatch as the `lossviz` command.

No arguments open the window; --version, --install-desktop-entry and the CLI work too.
"""

import multiprocessing
import sys

from lossviz.__main__ import main

if __name__ == "__main__":
    multiprocessing.freeze_support()  # a frozen child process must not start a second app
    sys.exit(main())
