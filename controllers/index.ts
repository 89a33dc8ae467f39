/** Controllers: the reconcile runtime, fleet-sync, the resource controllers and the edge agent. */
export * from './runtime/index.js';
export * from './install/crds.js';
export * from './apply/apply-set.js';
export * from './cache/fleet-cache.js';
export * from './fleet-sync/fleet-sync-controller.js';
export { GitSource, GitError, type GitCredentials } from './fleet-sync/git-source.js';
export { parseDuration } from './fleet-sync/duration.js';
export { validSignature } from './fleet-sync/webhook.js';
export * from './tenant/tenant-controller.js';
export * from './edgeserver/edgeserver-controller.js';
export * from './edgeserver/registration.js';
export * from './camera/camera-controller.js';
export * from './camera/license.js';
export * from './camera/render.js';
export * from './aimodel/aimodel-controller.js';
export * from './rollout/rollout-controller.js';
export * from './edge-agent/edge-agent.js';
export * from './platform.js';
