#!/usr/bin/env python3
"""mixmesh's Tacker plug-in: an ``instantiate_end`` mgmt-driver script (Tacker v2).

tacker-conductor runs this file as a subprocess after the VMs exist and before the operation is
COMPLETED, with a pickled dict on stdin::

    {operation, request, vnf_instance, grant_request, grant_response, tmp_csar_dir,
     user_script_err_handling_data}

A non-zero exit makes the operation FAILED_TEMP with ``instantiate_end failed: <stderr>``. The
conductor reads stdout as a pickle (``vnf_instance`` and ``user_script_err_handling_data`` keys
update its records): this script writes nothing there, or one pickled dict
``{"user_script_err_handling_data": {"mixmesh": {"injectionId", "state"}}}`` once it asked for an
injection, so ``GET vnf_lcm_op_occs`` can name the injection. The data Tacker hands back on a retry
is accepted and deliberately not used: a retry re-injects, and every injection step is idempotent.

When the instantiate request carries ``additionalParams.mixmesh = {namespace, service, name,
version, index}``, the script asks the VM Sidecar Injector to install the Istio sidecar on the
VNF's VM and waits for the result, so COMPLETED means injected. Without it, it does nothing.

The injector's URL and token come from the JSON file named by ``MIXMESH_INJECTOR_CONFIG``
(default ``/etc/mixmesh/injector.json``, ``{"url": ..., "token": ..., "caFile": ...}``; an https
injector's certificate is verified against ``caFile``, else the system roots) on the conductor host,
never from additionalParams (Tacker stores them and echoes them in GET vnf_lcm_op_occs).

Python 3 standard library only.
"""
import json
import os
import pickle
import ssl
import sys
import time
import urllib.error
import urllib.request

DEFAULT_CONFIG = "/etc/mixmesh/injector.json"
#: give up after this long (docs/tacker.md: 900 s, then exit 1 with INJECTION_TIMEOUT)
TIMEOUT_SECONDS = 900
POLL_SECONDS = 2.0
FINAL_STATES = ("Succeeded", "Failed")


class PluginError(Exception):
    """A failure with mixmesh's stable error code; written to stderr as ``CODE: message``."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code
        self.message = message

    def __str__(self):
        return "%s: %s" % (self.code, self.message)


def read_config(path):
    try:
        with open(path, "r", encoding="utf-8") as f:
            config = json.load(f)
    except OSError as e:
        raise PluginError("CONFIG_INVALID", "cannot read the injector config %s (MIXMESH_INJECTOR_CONFIG): %s" % (path, e.strerror))
    except ValueError as e:
        raise PluginError("CONFIG_INVALID", "the injector config %s is not JSON: %s" % (path, e))
    if not isinstance(config, dict) or not isinstance(config.get("url"), str) or not isinstance(config.get("token"), str):
        raise PluginError("CONFIG_INVALID", 'the injector config %s must be {"url": "http://…", "token": "…"}' % path)
    if not config["url"].startswith(("http://", "https://")):
        raise PluginError("CONFIG_INVALID", "the injector url in %s must start with http:// or https://" % path)
    ca_file = config.get("caFile")
    if ca_file is not None and (not isinstance(ca_file, str) or not os.path.isfile(ca_file)):
        raise PluginError("CONFIG_INVALID", "caFile in %s must name a PEM CA bundle that exists" % path)
    return config


def tls_context(config):
    """The injector's certificate is always verified: against caFile when given, else the system roots."""
    if not config["url"].startswith("https://"):
        return None
    return ssl.create_default_context(cafile=config.get("caFile"))


def servers_of(vnf_instance):
    """One {serverId, fixedAddresses} per VM, from vnfcResourceInfo and the linked extCpInfo."""
    info = (vnf_instance or {}).get("instantiatedVnfInfo") or {}
    ext_cps = {cp.get("id"): cp for cp in info.get("extCpInfo") or []}
    servers = []
    for vnfc in info.get("vnfcResourceInfo") or []:
        server_id = ((vnfc.get("computeResource") or {}).get("resourceId")) or vnfc.get("id")
        if not server_id:
            continue
        addresses = []
        for vnfc_cp in vnfc.get("vnfcCpInfo") or []:
            ext = ext_cps.get(vnfc_cp.get("vnfExtCpId"))
            if not ext:
                continue
            for proto in ext.get("cpProtocolInfo") or []:
                for ip in ((proto.get("ipOverEthernet") or {}).get("ipAddresses")) or []:
                    # dynamic addresses carry no value here: the injector asks Nova
                    for addr in ip.get("addresses") or []:
                        if addr not in addresses:
                            addresses.append(addr)
        server = {"serverId": server_id}
        if addresses:
            server["fixedAddresses"] = addresses
        servers.append(server)
    return servers


def http(method, url, token, body=None, timeout=30, context=None):
    data = None if body is None else json.dumps(body).encode("utf-8")
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Authorization", "Bearer " + token)
    req.add_header("Accept", "application/json")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout, context=context) as resp:
            text = resp.read().decode("utf-8")
            return resp.status, (json.loads(text) if text else {})
    except urllib.error.HTTPError as e:
        text = e.read().decode("utf-8", "replace")
        try:
            return e.code, json.loads(text)
        except ValueError:
            return e.code, {"detail": text[:500]}


def problem_error(status, body, what):
    code = body.get("code") if isinstance(body, dict) else None
    detail = body.get("detail") if isinstance(body, dict) else None
    errors = body.get("errors") if isinstance(body, dict) else None
    message = "%s: the injector answered %s%s" % (what, status, (": " + detail) if detail else "")
    if errors:
        message += " (" + "; ".join("%s: %s" % (e.get("pointer"), e.get("message")) for e in errors if isinstance(e, dict)) + ")"
    return PluginError(code or "INJECTION_FAILED", message)


class MixmeshPlugin(object):
    """The mgmt driver; Tacker calls the method named by ``operation``."""

    def __init__(self, req, inst, grant_req, grant, csar_dir, user_script_err_handling_data=None):
        self.req = req or {}
        self.inst = inst or {}
        self.grant_req = grant_req
        self.grant = grant
        self.csar_dir = csar_dir
        # what an earlier failed run left (Tacker passes it again on retry): accepted, not needed
        self.user_script_err_handling_data = user_script_err_handling_data or {}
        #: the dict for the conductor (pickled to stdout), or None for "nothing to say"
        self.output = None

    def instantiate_end(self):
        identity = (self.req.get("additionalParams") or {}).get("mixmesh")
        if not identity:
            return  # not a mixmesh VNF: nothing to do

        def record(injection_id, state):
            self.output = {"user_script_err_handling_data": {"mixmesh": {"injectionId": injection_id, "state": state}}}

        inject(identity, self.inst.get("id"), servers_of(self.inst), on_injection=record)


def inject(identity, vnf_instance_id, servers, config=None, timeout=None, on_injection=None):
    """Ask the injector to inject ``servers`` and wait; raise PluginError unless it Succeeded.

    Shared by the v2 script (this file) and the v1 management driver (``mixmesh_tacker``).
    ``on_injection(id, state)`` hears the injection's id once created and its final state.
    """
    if config is None:
        config = read_config(os.environ.get("MIXMESH_INJECTOR_CONFIG") or DEFAULT_CONFIG)
    if timeout is None:
        timeout = float(os.environ["MIXMESH_INJECTOR_TIMEOUT"]) if os.environ.get("MIXMESH_INJECTOR_TIMEOUT") else TIMEOUT_SECONDS
    base = config["url"].rstrip("/")
    context = tls_context(config)
    if not servers:
        raise PluginError("VNF_SHAPE_UNSUPPORTED", "the VNF instance %s has no VM in instantiatedVnfInfo.vnfcResourceInfo" % vnf_instance_id)
    body = {"vnfInstanceId": vnf_instance_id, "identity": identity, "servers": servers}
    deadline = time.monotonic() + timeout
    try:
        status, answer = http("POST", base + "/v1/injections", config["token"], body, context=context)
    except (urllib.error.URLError, OSError) as e:
        raise PluginError("INJECTION_FAILED", "cannot reach the injector at %s: %s" % (base, getattr(e, "reason", e)))
    if status != 202 or not isinstance(answer, dict) or not answer.get("id"):
        raise problem_error(status, answer, "POST /v1/injections")
    injection_id = answer["id"]
    if on_injection:
        on_injection(injection_id, answer.get("state", "Pending"))
    while True:
        try:
            status, answer = http("GET", base + "/v1/injections/" + injection_id, config["token"], context=context)
        except (urllib.error.URLError, OSError):
            status, answer = 0, {}  # the injector may restart: keep asking until the deadline
        if status == 200 and answer.get("state") in FINAL_STATES:
            break
        if status == 404:
            raise PluginError("INJECTION_FAILED", "the injector lost injection %s (it restarted); retry the operation to re-inject" % injection_id)
        if time.monotonic() >= deadline:
            raise PluginError("INJECTION_TIMEOUT", "injection %s not finished after %d s (last state %s)" % (injection_id, timeout, answer.get("state", "unknown")))
        time.sleep(min(POLL_SECONDS, max(0.05, deadline - time.monotonic())))
    if on_injection:
        on_injection(injection_id, answer["state"])
    if answer["state"] != "Succeeded":
        error = answer.get("error") or {}
        raise PluginError(error.get("code") or answer.get("code") or "INJECTION_FAILED", error.get("message") or "injection %s failed" % injection_id)
    return answer


def main():
    script_dict = pickle.load(sys.stdin.buffer)
    operation = script_dict["operation"]
    plugin = MixmeshPlugin(
        script_dict.get("request"),
        script_dict.get("vnf_instance"),
        script_dict.get("grant_request"),
        script_dict.get("grant_response"),
        script_dict.get("tmp_csar_dir"),
        script_dict.get("user_script_err_handling_data"),
    )
    handler = getattr(plugin, operation, None)
    try:
        if handler is not None:
            handler()  # only instantiate_end is ours; other hooks named on this script are no-ops
    finally:
        # stdout is the conductor's pickle channel: a dict or nothing, never text
        if plugin.output is not None:
            sys.stdout.buffer.write(pickle.dumps(plugin.output))
            sys.stdout.flush()


if __name__ == "__main__":
    try:
        main()
        os._exit(0)
    except PluginError as ex:
        sys.stderr.write(str(ex))
        sys.stderr.flush()
        os._exit(1)
    except Exception as ex:  # noqa: BLE001 - Tacker shows stderr; a traceback helps nobody there
        sys.stderr.write("INJECTION_FAILED: %s: %s" % (type(ex).__name__, ex))
        sys.stderr.flush()
        os._exit(1)
