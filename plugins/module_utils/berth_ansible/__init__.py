"""Ansible-side helpers of the berth.engine modules: the option model (one declaration per option
feeding argument_spec, comparison and docs), the comparison engine, and the per-module logic that
keeps ``plugins/modules/*.py`` thin. The engine itself (``module_utils/berth``) stays Ansible-free."""
from __future__ import annotations
