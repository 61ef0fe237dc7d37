import sys

from sheetcrm.cli import main

sys.exit(main())
