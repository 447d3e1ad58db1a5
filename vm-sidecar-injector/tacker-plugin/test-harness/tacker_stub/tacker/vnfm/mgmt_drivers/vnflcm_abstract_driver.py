"""A stand-in for Tacker's ``tacker.vnfm.mgmt_drivers.vnflcm_abstract_driver`` module.

Tacker cannot be installed on the test machines (not packaged for Debian 12, and its pip
dependencies cannot be fetched), so the v1 conductor harness puts this module at the same import
path. It declares the same abstract interface as Tacker's ``VnflcmMgmtAbstractDriver`` (method
names and parameters as in Tacker's module): a driver class that misses one of them cannot be
instantiated, exactly as under Tacker.
"""
import abc


class VnflcmMgmtAbstractDriver(metaclass=abc.ABCMeta):
    @abc.abstractmethod
    def get_type(self):
        """One of the predefined types of the hosting VNF drivers."""

    @abc.abstractmethod
    def get_name(self):
        """A symbolic name for the driver."""

    @abc.abstractmethod
    def get_description(self):
        """What the driver does."""

    @abc.abstractmethod
    def instantiate_start(self, context, vnf_instance, instantiate_vnf_request, grant, grant_request, **kwargs):
        """Before instantiation."""

    @abc.abstractmethod
    def instantiate_end(self, context, vnf_instance, instantiate_vnf_request, grant, grant_request, **kwargs):
        """After the VMs exist, before the operation completes."""

    @abc.abstractmethod
    def terminate_start(self, context, vnf_instance, terminate_vnf_request, grant, grant_request, **kwargs):
        """Before termination."""

    @abc.abstractmethod
    def terminate_end(self, context, vnf_instance, terminate_vnf_request, grant, grant_request, **kwargs):
        """After termination."""

    @abc.abstractmethod
    def scale_start(self, context, vnf_instance, scale_vnf_request, grant, grant_request, **kwargs):
        """Before scaling."""

    @abc.abstractmethod
    def scale_end(self, context, vnf_instance, scale_vnf_request, grant, grant_request, **kwargs):
        """After scaling."""

    @abc.abstractmethod
    def heal_start(self, context, vnf_instance, heal_vnf_request, grant, grant_request, **kwargs):
        """Before healing."""

    @abc.abstractmethod
    def heal_end(self, context, vnf_instance, heal_vnf_request, grant, grant_request, **kwargs):
        """After healing."""

    @abc.abstractmethod
    def change_external_connectivity_start(self, context, vnf_instance, change_ext_conn_request, grant, grant_request, **kwargs):
        """Before changing external connectivity."""

    @abc.abstractmethod
    def change_external_connectivity_end(self, context, vnf_instance, change_ext_conn_request, grant, grant_request, **kwargs):
        """After changing external connectivity."""

    @abc.abstractmethod
    def modify_information_start(self, context, vnf_instance, modify_vnf_request, **kwargs):
        """Before modifying the instance's information."""

    @abc.abstractmethod
    def modify_information_end(self, context, vnf_instance, modify_vnf_request, **kwargs):
        """After modifying the instance's information."""
