# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Documentation shared by the berth.engine modules: requirements, where state lives, attributes."""
from __future__ import annotations


class ModuleDocFragment:
    # Every module: requirements, where the engine keeps its state, the platform; add ACTIONS or
    # INFO for the check and diff mode attributes.
    DOCUMENTATION = r'''
requirements:
  - Python >= 3.9 on the target, running as root.
  - The berth engine on the target (the C(berth) Python package of this collection, installed with
    pip) for containers; other modules fall back to the copy bundled in the collection.
notes:
  - The engine keeps its state under E(BERTH_ROOT) (default C(/var/lib/berth)), its runtime files
    under E(BERTH_RUN) (default C(/run/berth)) and its configuration (registry credentials,
    C(daemon.json)) under E(BERTH_CONFIG) (default C(/etc/berth)); set them with the C(environment)
    keyword of a play or task.
attributes:
  platform:
    description: Target OS/families that can be operated against.
    support: full
    platforms: posix
'''

    # Modules that change state.
    ACTIONS = r'''
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: full
'''

    # Read-only *_info modules.
    INFO = r'''
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details: This action does not modify state.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: N/A
    details: This action does not modify state.
'''
