/**
 * A refusal carries the response to send (a 401/403 in the route family's shape, or a redirect
 * to the login page or the setup wizard); the global error handler sends it as it is.
 */
export class Refusal extends Error {
  constructor(readonly response: Response) {
    super(`refused with ${response.status}`);
  }
}

/** OctoPrint's own words for a missing or insufficient credential (api_version_no_key_403). */
export const OCTOPRINT_FORBIDDEN = "You don't have the permission to access the requested resource. It is either read-protected or not readable by the server.";
