/**
 * What every OpenAPI 3.1 document of mixmesh's APIs shares (the orchestrator's, the injector's,
 * the gateway's paths): the problem+json response and its schema, the bearer requirement, the
 * security schemes.
 */

/** a response in RFC 9457 problem+json */
export const PROBLEM_RESPONSE = { description: 'RFC 9457 problem', content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } } };

/** the security requirement of a route that needs a bearer token */
export const BEARER = [{ bearer: [] }];

/** bearer tokens, and Basic for Tacker's notification callbacks */
export const SECURITY_SCHEMES = { bearer: { type: 'http', scheme: 'bearer' }, tackerBasic: { type: 'http', scheme: 'basic' } };

/** the schema of a problem+json body (common/errors.ts `toProblem`) */
export const PROBLEM_SCHEMA = {
  type: 'object', required: ['type', 'title', 'status', 'code'],
  properties: { type: { type: 'string' }, title: { type: 'string' }, status: { type: 'integer' }, detail: { type: 'string' }, code: { type: 'string' }, errors: { type: 'array', items: { type: 'object', properties: { pointer: { type: 'string' }, message: { type: 'string' } } } } },
};
