/** The reconcile runtime: client, informers, work queue, controllers, leader election, manager. */
export * from './kube-client.js';
export * from './objects.js';
export * from './informer.js';
export * from './work-queue.js';
export * from './apply-barrier.js';
export * from './controller.js';
export * from './conditions.js';
export * from './leader-election.js';
export * from './manager.js';
export * from './log.js';
export * from './status.js';
