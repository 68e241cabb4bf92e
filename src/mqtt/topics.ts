/**
 * The bridge's topic layout under its base topic (one per host, so several hosts share a broker):
 *
 *   <base>/status                    online|offline   host availability: retained, QoS 1, the will
 *   <base>/<printer>/availability    online|offline   the printer's link, retained, QoS 1
 *   <base>/<printer>/state           JSON             retained, QoS 0, on change, rate-limited
 *   <base>/<printer>/event/<name>    JSON             QoS 1, not retained
 *   <base>/<printer>/cmd/<verb>      text or JSON     commands in, QoS 1, never retained
 *   <base>/<printer>/reply           JSON             what became of each command, QoS 1
 */

export const ONLINE = "online";
export const OFFLINE = "offline";

export const hostStatusTopic = (base: string) => `${base}/status`;
export const availabilityTopic = (base: string, printer: string) => `${base}/${printer}/availability`;
export const stateTopic = (base: string, printer: string) => `${base}/${printer}/state`;
export const eventTopic = (base: string, printer: string, name: string) => `${base}/${printer}/event/${name}`;
export const commandTopic = (base: string, printer: string, verb: string) => `${base}/${printer}/cmd/${verb}`;
export const replyTopic = (base: string, printer: string) => `${base}/${printer}/reply`;
/** What the bridge subscribes to for commands. */
export const commandFilter = (base: string) => `${base}/+/cmd/+`;
/** Where Home Assistant announces itself (`online` after it starts). */
export const haStatusTopic = (prefix: string) => `${prefix}/status`;

/** The base topic as an id for Home Assistant, which allows only [a-zA-Z0-9_-]. */
export const nodeId = (base: string) => base.replace(/[^a-zA-Z0-9_-]+/g, "_");
