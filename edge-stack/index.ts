/** The edge stack: camera ingest and the VideoJob queue. */
export * from './ingest/index.js';
export * from './jobs/index.js';
