# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Test helper callback: append every task result as one JSON line to $BERTH_RECORD."""
from __future__ import annotations

DOCUMENTATION = r'''
name: berth_record
type: aggregate
short_description: Record task results as JSON lines for berth's module tests
description: Appends one JSON object per task result to the file named by E(BERTH_RECORD).
requirements:
  - E(BERTH_RECORD) set to a writable file.
'''

import json
import os

from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "berth_record"
    CALLBACK_NEEDS_ENABLED = True

    def _record(self, result, status):
        # 2.19 hands TaskResult objects (result._result), 2.21 CallbackTaskResult (result.result)
        data = getattr(result, "result", None)
        if not isinstance(data, dict):
            data = result._result  # pylint: disable=protected-access
        task = getattr(result, "task", None) or result._task  # pylint: disable=protected-access
        entry = {"task": task.get_name(), "status": status,
                 "result": json.loads(json.dumps(dict(data), default=str))}
        with open(os.environ["BERTH_RECORD"], "a") as f:
            f.write(json.dumps(entry) + "\n")

    def v2_runner_on_ok(self, result, **kwargs):
        self._record(result, "ok")

    def v2_runner_on_failed(self, result, ignore_errors=False, **kwargs):
        self._record(result, "failed")

    def v2_runner_on_skipped(self, result, **kwargs):
        self._record(result, "skipped")
