"""mixmesh's Tacker plug-in for the v1 LCM API: a VNF LCM management driver class.

Installed with ``pip install`` (from vm-sidecar-injector/tacker-plugin/), it registers under the
``tacker.tacker.mgmt.drivers`` entry point as ``mixmesh``; enable it in tacker.conf with
``[tacker] vnflcm_mgmt_driver = vnflcm_noop,mixmesh``.
"""
