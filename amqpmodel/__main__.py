"""``python -m amqpmodel``: the same as the ``amqpmodel`` command."""

import sys

from ._cli import main

sys.exit(main())
