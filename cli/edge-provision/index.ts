/**
 * Edge provisioning: turning a Linux host into a k3s edge running the vmsctl agent, over SSH
 * (`vmsctl edge provision`) or on the host itself (`vmsctl edge join`). Plans are lists of
 * steps built from validated input; the same plan is printed by --dry-run and run by
 * `executeSteps`, which gets the cloud registration injected (`RegisterEdge`).
 */
export {
  defaultRegisterEdge,
  registerEdgeUnavailable,
  registrationUnavailable,
  checkRegistration,
  caPem,
  type EdgeRef,
  type EdgeRegistration,
  type EdgeRegistrationRequest,
  type RegisterEdge,
} from './registration.js';
export {
  DEFAULT_K3S_VERSION,
  existingFile,
  imagesExtension,
  parseAirGap,
  parseEdge,
  parseHost,
  parseImageTag,
  parseK3sVersion,
  parseNodeName,
  parsePort,
  parseUser,
} from './input.js';
export {
  formatPlan,
  planJoin,
  planProvision,
  REMOTE_DIR,
  scpArgv,
  sshArgv,
  stepJson,
  type JoinOptions,
  type Plan,
  type ProvisionOptions,
  type SshTarget,
  type Step,
} from './plan.js';
export {
  edgeKubeconfig,
  execaExec,
  executeSteps,
  type Exec,
  type ExecuteOptions,
  type ExecuteResult,
  type OutputMode,
  type StepOutcome,
} from './execute.js';
export { EDGE_FILES, edgeScriptsDir } from './scripts.js';
export { shellLine, shellQuote } from './shell.js';
