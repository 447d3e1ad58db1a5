"""mixmesh's Tacker plug-in for the v1 LCM API: a VNF LCM management driver class.

Installed with ``pip install`` (from vm-sidecar-injector/tacker-plugin/), it registers under the
``tacker.tacker.mgmt.drivers`` entry point as ``mgmt-drivers-mixmesh`` — the name the sample VNFD's
``interfaces.Vnflcm.instantiate_end.implementation`` uses, which is how the v1 conductor picks the
driver — and is enabled in tacker.conf with ``[tacker] vnflcm_mgmt_driver = vnflcm_noop,mgmt-drivers-mixmesh``.
"""
