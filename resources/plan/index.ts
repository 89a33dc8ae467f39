/** Fleet plans: what changes between two fleets, read from disk or from Git, and how to show it. */
export {
  planFleet,
  type ChangeAction,
  type FieldChange,
  type FleetPlan,
  type PlanSummary,
  type ResourceChange,
} from './plan.js';
export { diffValues } from './diff.js';
export { loadBaselineFiles, readPlanBaseline, type PlanBaseline } from './baseline.js';
export { gitFleetLocation, readGitFleet, type GitFleetLocation } from './git.js';
export {
  formatValue,
  planToJson,
  renderPlanMarkdown,
  renderPlanText,
  type MarkdownOptions,
  type PlanJson,
  type TextOptions,
} from './render.js';
