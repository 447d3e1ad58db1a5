#!/usr/bin/env python3
"""Call a VNF LCM v1 management driver the way Tacker's v1 conductor does.

    python3 v1_conductor.py DRIVER_NAME OPERATION < input.json

Loads ``DRIVER_NAME`` from the ``tacker.tacker.mgmt.drivers`` entry point group (importlib.metadata;
Tacker uses stevedore over the same metadata), instantiates it (an abstract method left out fails
here, as in Tacker), and calls the hook with keyword arguments as tacker/vnflcm/vnflcm_driver.py
does: ``context``, ``vnf_instance`` (a versioned object with snake_case fields), the operation's
request object (``instantiate_vnf_request`` with ``additional_params`` …), ``grant`` and
``grant_request``. input.json: ``{"vnf_instance": {...}, "request": {...}}`` in the v1 objects'
snake_case shape. Prints one JSON line: {"ok": true} or {"ok": false, "error": "...", "type": "..."};
exit 0 / 1. The abstract base module comes from ``tacker_stub/`` on PYTHONPATH (see there).
"""
import importlib.metadata
import json
import sys

from tacker.vnfm.mgmt_drivers.vnflcm_abstract_driver import VnflcmMgmtAbstractDriver

GROUP = "tacker.tacker.mgmt.drivers"
REQUEST_ARG = {
    "instantiate_start": "instantiate_vnf_request", "instantiate_end": "instantiate_vnf_request",
    "terminate_start": "terminate_vnf_request", "terminate_end": "terminate_vnf_request",
}


class VersionedObject(object):
    """Like an oslo versioned object: attribute access, ``obj_attr_is_set``, unset fields raise."""

    def __init__(self, fields):
        self._fields = {k: (v if k in DICT_FIELDS else wrap(v)) for k, v in fields.items()}

    def obj_attr_is_set(self, name):
        return name in self._fields

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        if name not in self._fields:
            raise NotImplementedError("Cannot load '%s' in the base class" % name)
        return self._fields[name]


#: fields Tacker's v1 objects hold as plain dicts (DictOfNullableField, KeyValuePairs), not objects
DICT_FIELDS = {"additional_params", "metadata", "extensions", "vnf_configurable_properties", "vim_connection_info"}


def wrap(value):
    if isinstance(value, dict):
        return VersionedObject(value)
    if isinstance(value, list):
        return [wrap(v) for v in value]
    return value


def load(name):
    matches = [ep for ep in importlib.metadata.entry_points(group=GROUP) if ep.name == name]
    if not matches:
        raise SystemExit("no %s entry point named %s" % (GROUP, name))
    driver = matches[0].load()()
    if not isinstance(driver, VnflcmMgmtAbstractDriver):
        raise SystemExit("%s is not a VnflcmMgmtAbstractDriver" % name)
    return driver


def main():
    name, operation = sys.argv[1], sys.argv[2]
    data = json.load(sys.stdin)
    driver = load(name)
    kwargs = {
        "context": VersionedObject({"request_id": "req-harness", "project_id": "admin"}),
        "vnf_instance": wrap(data["vnf_instance"]),
        REQUEST_ARG.get(operation, "request"): wrap(data.get("request") or {}),
        "grant": None,
        "grant_request": None,
    }
    try:
        getattr(driver, operation)(**kwargs)
    except Exception as e:  # the v1 conductor turns any exception into FAILED_TEMP
        print(json.dumps({"ok": False, "error": str(e), "type": type(e).__name__, "name": driver.get_name()}))
        return 1
    print(json.dumps({"ok": True, "name": driver.get_name(), "type": driver.get_type(), "description": driver.get_description()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
