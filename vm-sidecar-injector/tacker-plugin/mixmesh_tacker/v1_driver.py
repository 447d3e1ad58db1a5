"""The v1 management driver: ``instantiate_end`` asks the VM Sidecar Injector to inject the VNF's VM.

Tacker's v1 conductor (tacker/vnflcm/vnflcm_driver.py) loads the drivers named in
``[tacker] vnflcm_mgmt_driver`` from the ``tacker.tacker.mgmt.drivers`` entry point and calls the
hook the VNFD names, with keyword arguments::

    driver.instantiate_end(context=..., vnf_instance=<tacker.objects.VnfInstance>,
                           instantiate_vnf_request=<tacker.objects.InstantiateVnfRequest>,
                           grant=..., grant_request=None)

An exception fails the operation (FAILED_TEMP). The injection is the same code the v2 script
runs (``mixmesh_instantiate_end.inject``): same request, same wait, same error codes.
"""
from tacker.vnfm.mgmt_drivers import vnflcm_abstract_driver

import mixmesh_instantiate_end as plugin

try:  # a real Tacker: fail the operation with its own management driver error
    from tacker.common.exceptions import MgmtDriverOtherError as _TackerError
except ImportError:  # pragma: no cover - outside Tacker (tests), a plain error
    _TackerError = None


class MixmeshInjectionError(Exception):
    """``CODE: message``, as the v2 script writes to stderr."""

    def __init__(self, code, message):
        super().__init__("%s: %s" % (code, message))
        self.code = code


def _get(obj, name):
    """An attribute of a Tacker versioned object (unset fields read as None), or a dict key."""
    if obj is None:
        return None
    if isinstance(obj, dict):
        return obj.get(name)
    is_set = getattr(obj, "obj_attr_is_set", None)
    if callable(is_set):
        try:
            if not is_set(name):
                return None
        except Exception:  # noqa: BLE001 - not a field of this object
            return None
    try:
        return getattr(obj, name, None)
    except Exception:  # noqa: BLE001 - oslo raises NotImplementedError for lazy-loaded fields
        return None


def v1_instance_as_v2(vnf_instance):
    """The v1 VnfInstance (snake_case objects) in the v2 JSON shape ``servers_of`` reads."""
    info = _get(vnf_instance, "instantiated_vnf_info")
    ext_cps = []
    for cp in _get(info, "ext_cp_info") or []:
        protos = []
        for proto in _get(cp, "cp_protocol_info") or []:
            ipoe = _get(proto, "ip_over_ethernet")
            ips = [{"addresses": list(_get(ip, "addresses") or []), "isDynamic": bool(_get(ip, "is_dynamic"))} for ip in _get(ipoe, "ip_addresses") or []]
            protos.append({"ipOverEthernet": {"ipAddresses": ips}})
        ext_cps.append({"id": _get(cp, "id"), "cpProtocolInfo": protos})
    vnfcs = []
    for vnfc in _get(info, "vnfc_resource_info") or []:
        compute = _get(vnfc, "compute_resource")
        vnfcs.append({
            "id": _get(vnfc, "id"),
            "computeResource": {"resourceId": _get(compute, "resource_id")},
            "vnfcCpInfo": [{"id": _get(c, "id"), "vnfExtCpId": _get(c, "vnf_ext_cp_id")} for c in _get(vnfc, "vnfc_cp_info") or []],
        })
    return {"id": _get(vnf_instance, "id"), "instantiatedVnfInfo": {"extCpInfo": ext_cps, "vnfcResourceInfo": vnfcs}}


class MixmeshMgmtDriver(vnflcm_abstract_driver.VnflcmMgmtAbstractDriver):
    """Only ``instantiate_end`` acts; every other hook does nothing (like Tacker's vnflcm_noop)."""

    def get_type(self):
        return "mgmt-drivers-mixmesh"

    def get_name(self):
        # the entry point name and the VNFD's instantiate_end implementation name
        return "mgmt-drivers-mixmesh"

    def get_description(self):
        return "mixmesh: installs the Istio sidecar on the VNF's VM through the VM Sidecar Injector"

    def instantiate_start(self, context, vnf_instance, instantiate_vnf_request, grant, grant_request, **kwargs):
        pass

    def instantiate_end(self, context, vnf_instance, instantiate_vnf_request, grant, grant_request, **kwargs):
        identity = (_get(instantiate_vnf_request, "additional_params") or {}).get("mixmesh")
        if not identity:
            return  # not a mixmesh VNF: nothing to do
        inst = v1_instance_as_v2(vnf_instance)
        try:
            plugin.inject(identity, inst["id"], plugin.servers_of(inst))
        except plugin.PluginError as e:
            if _TackerError is not None:
                raise _TackerError(error_message=str(e))
            raise MixmeshInjectionError(e.code, e.message)

    def terminate_start(self, context, vnf_instance, terminate_vnf_request, grant, grant_request, **kwargs):
        pass

    def terminate_end(self, context, vnf_instance, terminate_vnf_request, grant, grant_request, **kwargs):
        pass

    def scale_start(self, context, vnf_instance, scale_vnf_request, grant, grant_request, **kwargs):
        pass

    def scale_end(self, context, vnf_instance, scale_vnf_request, grant, grant_request, **kwargs):
        pass

    def heal_start(self, context, vnf_instance, heal_vnf_request, grant, grant_request, **kwargs):
        pass

    def heal_end(self, context, vnf_instance, heal_vnf_request, grant, grant_request, **kwargs):
        pass

    def change_external_connectivity_start(self, context, vnf_instance, change_ext_conn_request, grant, grant_request, **kwargs):
        pass

    def change_external_connectivity_end(self, context, vnf_instance, change_ext_conn_request, grant, grant_request, **kwargs):
        pass

    def modify_information_start(self, context, vnf_instance, modify_vnf_request, **kwargs):
        pass

    def modify_information_end(self, context, vnf_instance, modify_vnf_request, **kwargs):
        pass
