/** The HTTP adapter: routes, OpenAPI, problem+json, and the server process. */
export { buildApp, type BuildAppOptions } from './app.js';
export { startServer, type RunningServer, type ServerInfo, type StartServerOptions } from './server.js';
export { routeTable } from './routes/index.js';
export { buildOpenApi } from './openapi.js';
export { STATUS_OF, PROBLEM_CONTENT_TYPE, type Problem } from './problem.js';
export { AUTHZ_DECIDE_ACTION } from './authorize.js';
export type { AppDeps, AuthorizeInput, RouteAuthorization, RouteSpec } from './route.js';
