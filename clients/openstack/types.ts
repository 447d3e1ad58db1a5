/**
 * The Tacker (ETSI SOL002/003/005) and Nova shapes mixmesh reads and writes; fields it does not
 * use are left open.
 */
export interface ProblemDetails {
  status: number;
  title?: string;
  detail: string;
  type?: string;
}

export type InstantiationState = 'NOT_INSTANTIATED' | 'INSTANTIATED';
export type OperationState = 'STARTING' | 'PROCESSING' | 'COMPLETED' | 'FAILED_TEMP' | 'FAILED' | 'ROLLING_BACK' | 'ROLLED_BACK';
export type LcmOperation = 'INSTANTIATE' | 'SCALE' | 'SCALE_TO_LEVEL' | 'CHANGE_FLAVOUR' | 'TERMINATE' | 'HEAL' | 'OPERATE' | 'CHANGE_EXT_CONN' | 'MODIFY_INFO' | 'CHANGE_VNFPKG';

export interface IpAddressesInfo {
  type: 'IPV4' | 'IPV6';
  addresses?: string[];
  isDynamic?: boolean;
  subnetId?: string;
}

export interface ExtCpInfo {
  id: string;
  cpdId: string;
  cpConfigId?: string;
  cpProtocolInfo?: { layerProtocol: string; ipOverEthernet?: { macAddress?: string; ipAddresses?: IpAddressesInfo[] } }[];
  extLinkPortId?: string;
  associatedVnfcCpId?: string;
}

export interface VnfcResourceInfo {
  id: string;
  vduId: string;
  computeResource: { vimConnectionId?: string; resourceId: string; vimLevelResourceType: string };
  vnfcCpInfo?: { id: string; cpdId: string; vnfExtCpId?: string }[];
  metadata?: Record<string, unknown>;
}

export interface VnfcInfo {
  id: string;
  vduId: string;
  vnfcResourceInfoId: string;
  vnfcState: 'STARTED' | 'STOPPED';
}

export interface InstantiatedVnfInfo {
  flavourId: string;
  vnfState: 'STARTED' | 'STOPPED';
  instantiationLevelId?: string;
  extCpInfo?: ExtCpInfo[];
  vnfcResourceInfo?: VnfcResourceInfo[];
  vnfcInfo?: VnfcInfo[];
  [k: string]: unknown;
}

export interface VimConnectionInfo {
  vimId?: string;
  vimType: string;
  interfaceInfo?: Record<string, unknown>;
  accessInfo?: Record<string, unknown>;
}

export interface VnfInstance {
  id: string;
  vnfInstanceName?: string;
  vnfInstanceDescription?: string;
  vnfdId: string;
  vnfProvider?: string;
  vnfProductName?: string;
  vnfSoftwareVersion?: string;
  vnfdVersion?: string;
  instantiationState: InstantiationState;
  instantiatedVnfInfo?: InstantiatedVnfInfo;
  vimConnectionInfo?: Record<string, VimConnectionInfo>;
  metadata?: Record<string, unknown>;
  _links?: Record<string, { href: string }>;
  [k: string]: unknown;
}

export interface CreateVnfRequest {
  vnfdId: string;
  vnfInstanceName?: string;
  vnfInstanceDescription?: string;
  metadata?: Record<string, unknown>;
}

export interface InstantiateVnfRequest {
  flavourId: string;
  instantiationLevelId?: string;
  extVirtualLinks?: Record<string, unknown>[];
  vimConnectionInfo?: Record<string, VimConnectionInfo>;
  additionalParams?: Record<string, unknown>;
  [k: string]: unknown;
}

export interface TerminateVnfRequest {
  terminationType: 'FORCEFUL' | 'GRACEFUL';
  gracefulTerminationTimeout?: number;
}

export interface AffectedVnfc {
  id: string;
  vduId: string;
  changeType: 'ADDED' | 'REMOVED' | 'MODIFIED' | 'TEMPORARY';
  computeResource: { vimConnectionId?: string; resourceId: string; vimLevelResourceType: string };
  [k: string]: unknown;
}

export interface VnfLcmOpOcc {
  id: string;
  operationState: OperationState;
  stateEnteredTime: string;
  startTime: string;
  vnfInstanceId: string;
  operation: LcmOperation;
  isAutomaticInvocation: boolean;
  operationParams?: Record<string, unknown>;
  isCancelPending: boolean;
  error?: ProblemDetails;
  resourceChanges?: { affectedVnfcs?: AffectedVnfc[]; [k: string]: unknown };
  _links?: Record<string, { href: string }>;
}

export type NotificationType = 'VnfLcmOperationOccurrenceNotification' | 'VnfIdentifierCreationNotification' | 'VnfIdentifierDeletionNotification';

export interface LccnSubscriptionFilter {
  vnfInstanceSubscriptionFilter?: { vnfdIds?: string[]; vnfInstanceIds?: string[]; vnfInstanceNames?: string[] };
  notificationTypes?: NotificationType[];
  operationTypes?: LcmOperation[];
  operationStates?: OperationState[];
}

export interface SubscriptionAuthentication {
  authType: ('BASIC' | 'OAUTH2_CLIENT_CREDENTIALS')[];
  paramsBasic?: { userName: string; password: string };
  paramsOauth2ClientCredentials?: { clientId: string; clientPassword: string; tokenEndpoint: string };
}

export interface LccnSubscriptionRequest {
  callbackUri: string;
  filter?: LccnSubscriptionFilter;
  authentication?: SubscriptionAuthentication;
  verbosity?: 'FULL' | 'SHORT';
}

export interface LccnSubscription {
  id: string;
  callbackUri: string;
  filter?: LccnSubscriptionFilter;
  verbosity?: 'FULL' | 'SHORT';
  _links?: Record<string, { href: string }>;
}

export interface VnfLcmOperationOccurrenceNotification {
  id: string;
  notificationType: 'VnfLcmOperationOccurrenceNotification';
  subscriptionId: string;
  timeStamp: string;
  notificationStatus: 'START' | 'RESULT';
  operationState: OperationState;
  vnfInstanceId: string;
  operation: LcmOperation;
  isAutomaticInvocation: boolean;
  verbosity?: 'FULL' | 'SHORT';
  vnfLcmOpOccId: string;
  error?: ProblemDetails;
  affectedVnfcs?: AffectedVnfc[];
  _links: { vnfInstance: { href: string }; subscription: { href: string }; vnfLcmOpOcc: { href: string } };
}

export interface VnfPackage {
  id: string;
  vnfdId?: string;
  vnfProvider?: string;
  vnfProductName?: string;
  vnfSoftwareVersion?: string;
  vnfdVersion?: string;
  onboardingState: 'CREATED' | 'UPLOADING' | 'PROCESSING' | 'ONBOARDED' | 'ERROR';
  operationalState: 'ENABLED' | 'DISABLED';
  usageState: 'IN_USE' | 'NOT_IN_USE';
  userDefinedData?: Record<string, unknown>;
  [k: string]: unknown;
}

export interface NovaAddress {
  addr: string;
  version: number;
  'OS-EXT-IPS:type'?: 'fixed' | 'floating';
  'OS-EXT-IPS-MAC:mac_addr'?: string;
}

export interface NovaServer {
  id: string;
  name: string;
  status: string;
  addresses: Record<string, NovaAddress[]>;
  [k: string]: unknown;
}
