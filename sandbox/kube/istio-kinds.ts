/** The Istio kinds mixmesh writes, as Istio's CRDs name them (checked in istio-crds.test.ts). */
import type { PrinterColumn } from './resources.js';

export interface IstioKind {
  group: 'networking.istio.io' | 'security.istio.io';
  kind: string;
  plural: string;
  shortNames: string[];
  columns: PrinterColumn[];
}

const age: PrinterColumn = { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp', description: 'CreationTimestamp is a timestamp representing the server time when this object was created.' };

export const ISTIO_KINDS: IstioKind[] = [
  { group: 'networking.istio.io', kind: 'VirtualService', plural: 'virtualservices', shortNames: ['vs'], columns: [
    { name: 'Gateways', type: 'string', jsonPath: '.spec.gateways', description: 'The names of gateways and sidecars that should apply these routes' },
    { name: 'Hosts', type: 'string', jsonPath: '.spec.hosts', description: 'The destination hosts to which traffic is being sent' }, age] },
  { group: 'networking.istio.io', kind: 'DestinationRule', plural: 'destinationrules', shortNames: ['dr'], columns: [
    { name: 'Host', type: 'string', jsonPath: '.spec.host', description: 'The name of a service from the service registry' }, age] },
  { group: 'networking.istio.io', kind: 'Gateway', plural: 'gateways', shortNames: ['gw'], columns: [] },
  { group: 'networking.istio.io', kind: 'ServiceEntry', plural: 'serviceentries', shortNames: ['se'], columns: [
    { name: 'Hosts', type: 'string', jsonPath: '.spec.hosts', description: 'The hosts associated with the ServiceEntry' },
    { name: 'Location', type: 'string', jsonPath: '.spec.location', description: 'Whether the service is external to the mesh or part of the mesh (MESH_EXTERNAL or MESH_INTERNAL)' },
    { name: 'Resolution', type: 'string', jsonPath: '.spec.resolution', description: 'Service resolution mode for the hosts (NONE, STATIC, or DNS)' }, age] },
  { group: 'networking.istio.io', kind: 'WorkloadEntry', plural: 'workloadentries', shortNames: ['we'], columns: [
    age, { name: 'Address', type: 'string', jsonPath: '.spec.address', description: 'Address associated with the network endpoint.' }] },
  { group: 'networking.istio.io', kind: 'WorkloadGroup', plural: 'workloadgroups', shortNames: ['wg'], columns: [age] },
  { group: 'networking.istio.io', kind: 'Sidecar', plural: 'sidecars', shortNames: [], columns: [] },
  { group: 'security.istio.io', kind: 'PeerAuthentication', plural: 'peerauthentications', shortNames: ['pa'], columns: [
    { name: 'Mode', type: 'string', jsonPath: '.spec.mtls.mode', description: 'Defines the mTLS mode used for peer authentication.' },
    { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' }] },
  { group: 'security.istio.io', kind: 'AuthorizationPolicy', plural: 'authorizationpolicies', shortNames: ['ap'], columns: [
    { name: 'Action', type: 'string', jsonPath: '.spec.action', description: 'The operation to take.' }, age] },
  { group: 'security.istio.io', kind: 'RequestAuthentication', plural: 'requestauthentications', shortNames: ['ra'], columns: [] },
];

