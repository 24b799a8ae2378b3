"""Makes `orders_service` and `shop` importable when the sample suite runs from the repository root
(`python -m pytest sample_project`): in a real project they would be installed packages.

Appended, not prepended: the repository's own `tests` package must stay the one `import tests` finds.
"""

import sys
from pathlib import Path

sys.path.append(str(Path(__file__).parent))
